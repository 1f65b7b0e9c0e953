"""What the theory-lab experiments share: rules for list-valued settings, Gaussian mixtures with exact
densities, quadrature and a small MLP discriminator. What is compared against a formula is float64."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf

from gan_repro.config import Rule, is_number, whole
from gan_repro.errors import ConfigError

LOG_2 = math.log(2.0)


# ----------------------------------------------------------------------------- rules for the labs' settings
def is_finite(value: object) -> bool:
    """An int or float (not a bool) that is finite."""
    return is_number(value) and math.isfinite(value)


def numbers(*, low: float = 0.0, length: int | None = None) -> Rule:
    """A non-empty list of finite numbers > low (any when low is -inf), exactly `length` long if given."""

    def accepts(value: object) -> bool:
        return (
            OmegaConf.is_list(value)
            and len(value) > 0
            and (length is None or len(value) == length)
            and all(is_finite(v) and v > low for v in value)
        )

    size = f"list of {length}" if length is not None else "non-empty list of"
    return Rule(accepts, f"a {size} finite numbers" + (f" > {low:g}" if low > -math.inf else ""))


FINITE = Rule(is_finite, "a finite number")
WIDTHS = Rule(
    lambda v: OmegaConf.is_list(v) and all(whole().accepts(w) for w in v),
    "a list of whole numbers >= 1 (hidden layer widths)",
)
MEAN_STD = Rule(
    lambda v: numbers(low=-math.inf, length=2).accepts(v) and v[1] > 0, "[mean, std] with std > 0"
)
MEANS_STDS = Rule(
    lambda v: OmegaConf.is_list(v) and len(v) > 0 and all(MEAN_STD.accepts(t) for t in v),
    "a non-empty list of [mean, std] pairs with std > 0",
)
INTERVAL = Rule(lambda v: numbers(length=2).accepts(v) and v[0] < v[1], "[low, high] with 0 < low < high")


@dataclass(frozen=True)
class Mixture:
    """A mixture of isotropic Gaussians in R^d: weights (K,), means (K, d), stds (K,)."""

    weights: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor

    @classmethod
    def from_config(cls, node: DictConfig, setting: str) -> Mixture:
        """Read {weights, means, stds} (means: one list of d numbers per component), checked."""
        data = OmegaConf.to_container(node, resolve=True)
        try:
            weights = torch.tensor(data["weights"], dtype=torch.float64)
            means = torch.tensor(data["means"], dtype=torch.float64).reshape(len(weights), -1)
            stds = torch.tensor(data["stds"], dtype=torch.float64)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ConfigError(
                setting,
                f"needs weights, means (one list per component) and stds of the same length ({error})",
            ) from None
        if stds.shape != weights.shape or (weights <= 0).any() or (stds <= 0).any():
            raise ConfigError(setting, "weights and stds must be positive, one per component")
        return cls(weights / weights.sum(), means, stds)

    @property
    def dimension(self) -> int:
        return self.means.shape[1]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log density at x (N, d) -> (N,), float64, by logsumexp (no underflow far from the modes)."""
        x = x.double()
        squared = (x[:, None, :] - self.means[None]).pow(2).sum(-1)  # (N, K)
        log_components = (
            -0.5 * squared / self.stds.pow(2)
            - self.dimension * torch.log(self.stds)
            - 0.5 * self.dimension * math.log(2 * math.pi)
        )
        return torch.logsumexp(log_components + torch.log(self.weights), dim=1)

    def sample(self, count: int, *, rng: torch.Generator) -> torch.Tensor:
        """count samples (count, d), float64."""
        component = torch.multinomial(self.weights, count, replacement=True, generator=rng)
        noise = torch.randn(count, self.dimension, dtype=torch.float64, generator=rng)
        return self.means[component] + self.stds[component, None] * noise

    def bounds(self, sigmas: float = 6.0) -> tuple[float, float]:
        """An interval holding every component's mean +- sigmas std in every coordinate."""
        return (
            float((self.means - sigmas * self.stds[:, None]).min()),
            float((self.means + sigmas * self.stds[:, None]).max()),
        )


def gauss_legendre(breakpoints: list[float], nodes_per_segment: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights integrating on [b0, b_last], exact for polynomials of degree < 2n on each segment."""
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(nodes_per_segment)
    edges = np.unique(np.asarray(breakpoints, dtype=float))
    nodes, weights = [], []
    for left, right in zip(edges[:-1], edges[1:], strict=True):
        half = 0.5 * (right - left)
        nodes.append(left + half * (unit_nodes + 1.0))
        weights.append(half * unit_weights)
    return np.concatenate(nodes), np.concatenate(weights)


def jsd_from_log_densities(log_p: torch.Tensor, log_q: torch.Tensor, weights: torch.Tensor) -> float:
    """JSD(P||Q) = 1/2 KL(P||M) + 1/2 KL(Q||M), M = (P+Q)/2, by quadrature on nodes with these weights."""
    log_m = torch.logaddexp(log_p, log_q) - LOG_2
    p_term = torch.where(log_p > -700, log_p.exp() * (log_p - log_m), torch.zeros_like(log_p))
    q_term = torch.where(log_q > -700, log_q.exp() * (log_q - log_m), torch.zeros_like(log_q))
    return float(0.5 * (weights * (p_term + q_term)).sum())


def kl_from_log_densities(log_p: torch.Tensor, log_q: torch.Tensor, weights: torch.Tensor) -> float:
    """KL(P||Q) by quadrature on nodes with these weights."""
    terms = torch.where(log_p > -700, log_p.exp() * (log_p - log_q), torch.zeros_like(log_p))
    return float((weights * terms).sum())


def mlp(sizes: list[int], *, activation: Callable[[], nn.Module] = nn.SiLU) -> nn.Sequential:
    """Linear layers of these sizes with `activation` between them (none after the last)."""
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Logit(nn.Module):
    """Wraps a network with output (B, 1) into a discriminator returning logits (B,)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).view(-1)
