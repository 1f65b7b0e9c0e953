"""How useful a generator gradient is, not only how big: its cosine with a transport direction.

For fakes G(z_i) (+ eps_i, the samples D saw) and real images, x*_i is fake i's partner in an optimal
assignment under the squared Euclidean cost (distances.transport_partners, the empirical W2 coupling), and

    T(theta) = 1/2 mean_i ||G_theta(z_i) (+ eps_i) - x*_i||^2        (the partners and eps held fixed)
    -grad_theta T = E[J^T (x* - G(z))]                              (the transport direction)

The cosine of a cost's descent direction -grad cost with -grad T is cos(grad cost, grad T): 1 moves the
samples along the coupling towards the data, 0 is unrelated to it, < 0 moves them away. Shared by the probe
(probe.csv's grad_cosine_transport_* at the variance points) and experiment=updates (transport_cosine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn

from gan_repro.distances import transport_partners
from gan_repro.losses import Objective, common_slope_sign
from gan_repro.models import tracking_gradients


def flat(gradients: Sequence[torch.Tensor], count: int) -> torch.Tensor:
    """Per-parameter gradients with a leading axis of `count` as one (count, P) float64 matrix."""
    return torch.cat([g.double().reshape(count, -1) for g in gradients], dim=1)


def signed_directions(gradients: Sequence[torch.Tensor], kinds: Sequence[str | Objective]) -> torch.Tensor:
    """(K, P) float64: each cost's gradient direction from probe.scaled_cost_gradients' per-parameter
    (K, *shape) gradients, which carry the slopes' magnitudes (and least squares' per-sample signs) but
    not the sign every slope of a cost shares (losses.common_slope_sign): a norm needs no sign, a
    direction does."""
    signs = torch.tensor([common_slope_sign(kind) for kind in kinds], dtype=torch.float64)
    return flat(gradients, len(kinds)) * signs.to(gradients[0].device)[:, None]


def transport_gradient(
    generator: nn.Module,
    z: torch.Tensor,
    partners: torch.Tensor,
    chunk: int,
    samples: torch.Tensor | None = None,
) -> torch.Tensor:
    """grad_theta T, T = 1/2 mean_i ||G(z_i) - x*_i||^2 with the partners x* (n, C, H, W) held fixed, as one
    (P,) float64 vector: minus the transport direction E[J^T (x* - G(z))]. `samples` (n, C, H, W): where
    the fakes stand, G(z) + eps as D saw them; T is taken there, its gradient flows through G(z). G's
    parameters are differentiated even if frozen (their flags are restored)."""
    parameters = list(generator.parameters())
    total = torch.zeros(sum(p.numel() for p in parameters), dtype=torch.float64, device=z.device)
    with tracking_gradients(generator), torch.enable_grad():
        for start in range(0, len(z), chunk):
            part = slice(start, start + chunk)
            images = generator(z[part])
            if samples is not None:  # at the noisy samples: value G(z) + eps, gradient through G(z)
                images = images + (samples[part].detach() - images.detach())
            distance = 0.5 * (images - partners[part].detach()).flatten(1).pow(2).sum(dim=1)  # (chunk,)
            gradients = torch.autograd.grad(distance.sum() / len(z), parameters)
            total += flat(gradients, 1)[0]
    return total


def cosine(first: torch.Tensor, second: torch.Tensor) -> float | None:
    """Two vectors' cosine, in float64; None when either is 0 (an underflowed gradient has no direction)."""
    norms = first.double().norm() * second.double().norm()
    return None if norms == 0 else float(torch.dot(first.double(), second.double()) / norms)


def transport_cosines(
    generator: nn.Module,
    z: torch.Tensor,
    samples: torch.Tensor,
    reals: torch.Tensor,
    directions: torch.Tensor,
) -> list[float | None]:
    """cos(grad cost_k, grad T) for each row of directions (K, P), T's partners among `reals` (n, C, H, W)
    for the fakes `samples` = G(z) (+ eps) (n, C, H, W), one batch. None for all when the two batches differ
    in size (a training split smaller than a batch: no one-to-one assignment); NaN for all when a sample is
    not finite (a diverged G: no assignment, and the run's non-finite policy applies)."""
    if len(reals) != len(samples):
        return [None] * len(directions)
    if not (torch.isfinite(samples).all() and torch.isfinite(reals).all()):
        return [math.nan] * len(directions)
    partners = reals[transport_partners(samples, reals).to(reals.device)]
    gradient = transport_gradient(generator, z, partners, len(z), samples=samples)
    return [cosine(direction, gradient) for direction in directions]
