"""Lab 2: Theorem 2.5 and Goodfellow et al.'s identity, for g_theta(z) = mu + s z, z ~ N(0, 1), P_r Gaussian.

With D* = P_r / (P_r + P_g_theta0) frozen at theta0 (closed form),
    E_z[-grad_theta log D*(g_theta(z))]     = grad_theta [KL(P_g_theta || P_r) - 2 JSD(P_g_theta || P_r)] (3)
    E_z[grad_theta log(1 - D*(g_theta(z)))] = grad_theta 2 JSD(P_g_theta || P_r)
at theta = theta0. Left: autograd through Gauss-Hermite quadrature in z (and, for scale, a Monte Carlo
batch). Right: divergences by Gauss-Legendre quadrature in x, gradient by central finite differences.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from gan_repro.config import Rule, number, whole
from gan_repro.files import write_csv
from gan_repro.lab.common import (
    FINITE,
    MEANS_STDS,
    gauss_legendre,
    jsd_from_log_densities,
    kl_from_log_densities,
)

SETTINGS: dict[str, Rule] = {  # lab.<key>
    "real.mean": FINITE,
    "real.std": number(),
    "thetas": MEANS_STDS,
    "hermite_nodes": whole(),
    "samples": whole(),
    "finite_difference_step": number(),
    "tolerance": number(),
}

log = logging.getLogger(__name__)
COMPONENTS = ("mean", "std")
Pair = tuple[float, float]  # (mean, std) of a normal: P_r, or theta = (mu, s)


def normal_log_prob(x: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float) -> torch.Tensor:
    """log N(x; mean, std^2), float64."""
    return (
        -0.5 * ((x - mean) / std) ** 2
        - torch.log(torch.as_tensor(std, dtype=torch.float64))
        - 0.5 * math.log(2 * math.pi)
    )


def log_optimal_d(x: torch.Tensor, real: Pair, theta0: Pair) -> tuple[torch.Tensor, torch.Tensor]:
    """(log D*(x), log(1 - D*(x))) with D* = P_r / (P_r + P_g_theta0), from log densities."""
    log_real, log_fake = normal_log_prob(x, *real), normal_log_prob(x, *theta0)
    log_total = torch.logaddexp(log_real, log_fake)
    return log_real - log_total, log_fake - log_total


def per_sample_gradients(real: Pair, theta0: Pair, z: torch.Tensor) -> dict[str, torch.Tensor]:
    """grad_theta cost(g_theta(z_i)) at theta0 for both costs, D* frozen at theta0; (N, 2) each."""
    # g_theta(z) = mu + s z, so grad_theta = (d cost/dx) * (1, z): the chain rule, d cost/dx by autograd
    x = (theta0[0] + theta0[1] * z).requires_grad_(True)  # g_theta0(z), (N,)
    log_d, log_one_minus_d = log_optimal_d(x, real, theta0)  # D* does not move with theta
    slopes = {
        "nonsaturating": torch.autograd.grad(-log_d.sum(), x, retain_graph=True)[0],
        "minimax": torch.autograd.grad(log_one_minus_d.sum(), x)[0],
    }
    return {cost: torch.stack([slope, slope * z], dim=1) for cost, slope in slopes.items()}


def divergences(real: Pair, theta: Pair, nodes: torch.Tensor, weights: torch.Tensor) -> dict[str, float]:
    """KL(P_g_theta || P_r) and JSD(P_g_theta || P_r) by quadrature."""
    log_fake, log_real = normal_log_prob(nodes, *theta), normal_log_prob(nodes, *real)
    return {
        "kl": kl_from_log_densities(log_fake, log_real, weights),
        "jsd": jsd_from_log_densities(log_fake, log_real, weights),
    }


def central_difference(function: Callable[[Pair], float], theta0: Pair, step: float) -> np.ndarray:
    """(f(theta0 + h e_k) - f(theta0 - h e_k)) / 2h for k = 0, 1."""
    gradient = np.zeros(2)
    for k in range(2):
        up, down = list(theta0), list(theta0)
        up[k] += step
        down[k] -= step
        gradient[k] = (function(tuple(up)) - function(tuple(down))) / (2 * step)
    return gradient


def expected_gradients(
    real: Pair, theta0: Pair, lab_cfg: DictConfig, *, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """The left sides: E_z by Gauss-Hermite quadrature, by a Monte Carlo batch, and that batch's std error."""
    z_nodes, z_weights = np.polynomial.hermite_e.hermegauss(int(lab_cfg.hermite_nodes))
    z_weights = torch.from_numpy(z_weights / math.sqrt(2 * math.pi))  # E over N(0, 1)
    quadrature = {
        cost: (z_weights[:, None] * g).sum(0).numpy()
        for cost, g in per_sample_gradients(real, theta0, torch.from_numpy(z_nodes)).items()
    }
    count = int(lab_cfg.samples)
    z = torch.randn(count, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    per_sample = per_sample_gradients(real, theta0, z)
    return {
        "quadrature": quadrature,
        "sampled": {cost: g.mean(0).numpy() for cost, g in per_sample.items()},
        "stderr": {cost: (g.std(0) / math.sqrt(count)).numpy() for cost, g in per_sample.items()},
    }


def divergence_gradients(real: Pair, theta0: Pair, step: float) -> dict[str, np.ndarray]:
    """The right sides: grad [KL - 2 JSD] (Eq. 3) and grad 2 JSD, by central differences of quadratures."""
    spread = max(abs(m) + 12 * s for m, s in (real, theta0)) + 2 * step
    nodes, weights = gauss_legendre(list(np.linspace(-spread, spread, 81)), nodes_per_segment=64)
    nodes, weights = torch.from_numpy(nodes), torch.from_numpy(weights)

    def nonsaturating(theta: Pair) -> float:
        values = divergences(real, theta, nodes, weights)
        return values["kl"] - 2 * values["jsd"]

    def minimax(theta: Pair) -> float:
        return 2 * divergences(real, theta, nodes, weights)["jsd"]

    return {
        "nonsaturating": central_difference(nonsaturating, theta0, step),
        "minimax": central_difference(minimax, theta0, step),
    }


def check_theta(real: Pair, theta0: Pair, lab_cfg: DictConfig, *, seed: int) -> list[dict[str, Any]]:
    """Rows (cost, component): expectation by quadrature and sampling, divergence gradient, relative error."""
    left = expected_gradients(real, theta0, lab_cfg, seed=seed)
    targets = divergence_gradients(real, theta0, float(lab_cfg.finite_difference_step))
    rows = []
    for cost, target in targets.items():
        quadrature, sampled, stderr = (left[kind][cost] for kind in ("quadrature", "sampled", "stderr"))
        relative = float(np.linalg.norm(quadrature - target) / np.linalg.norm(target))
        relative_sampled = float(np.linalg.norm(sampled - target) / np.linalg.norm(target))
        for k, component in enumerate(COMPONENTS):
            rows.append(
                {
                    "theta_mean": theta0[0],
                    "theta_std": theta0[1],
                    "cost": cost,
                    "component": component,
                    "expectation_quadrature": float(quadrature[k]),
                    "expectation_sampled": float(sampled[k]),
                    "sampled_stderr": float(stderr[k]),
                    "divergence_gradient": float(target[k]),
                    "relative_error": relative,
                    "relative_error_sampled": relative_sampled,
                }
            )
    return rows


def claims(worst: pd.Series, tolerance: float) -> list[dict[str, Any]]:
    """Theorem 2.5 and the minimax identity, each holding when its worst relative error is within bounds."""
    return [
        {
            "claim": "E_z[-grad log D*(g(z))] = grad [KL(P_g||P_r) - 2 JSD(P_g||P_r)] (Theorem 2.5), "
            f"relative error <= {tolerance:g}",
            "measured": float(worst["nonsaturating"]),
            "holds": bool(worst["nonsaturating"] <= tolerance),
        },
        {
            "claim": "E_z[grad log(1 - D*(g(z)))] = grad 2 JSD(P_g||P_r) (Goodfellow et al.), "
            f"relative error <= {tolerance:g}",
            "measured": float(worst["minimax"]),
            "holds": bool(worst["minimax"] <= tolerance),
        },
    ]


def run(cfg: DictConfig, *, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """Every theta0 in lab.thetas against P_r = N(real.mean, real.std^2); writes gradient_identity.csv."""
    lab_cfg = cfg.lab
    real = (float(lab_cfg.real.mean), float(lab_cfg.real.std))
    rows = []
    for index, theta in enumerate(lab_cfg.thetas):
        rows += check_theta(real, (float(theta[0]), float(theta[1])), lab_cfg, seed=int(cfg.seed) + index)
    table = pd.DataFrame(rows)
    write_csv(run_dir / "gradient_identity.csv", table)
    worst = table.groupby("cost")["relative_error"].max()
    for cost, error in worst.items():
        log.info("lab: %s: largest relative error over %d thetas: %.2e", cost, len(lab_cfg.thetas), error)
    return {
        "worst_relative_error": {cost: float(error) for cost, error in worst.items()},
        "claims": claims(worst, float(lab_cfg.tolerance)),
    }
