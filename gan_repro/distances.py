"""Distances between real and generated samples that do not max out (Section 3), in pixel space.

Both take two equal-size samples, flattened to vectors, and use the Euclidean ground metric.
    sliced_wasserstein: E_theta W1(theta^T P, theta^T Q), theta uniform on the unit sphere,
                        estimated with `projections` random directions (a lower bound on W1).
    exact_wasserstein:  W1 between the two empirical distributions: the optimal assignment
                        (equal sizes, uniform weights: some permutation is an optimal coupling).
"""

from __future__ import annotations

import numpy as np
import torch


def sliced_wasserstein(
    real: torch.Tensor, fake: torch.Tensor, *, projections: int, rng: torch.Generator | None = None
) -> float:
    """Sliced W1 between two samples of equal size (N, ...), in float64."""
    x, y = real.flatten(1).double().cpu(), fake.flatten(1).double().cpu()
    if x.shape != y.shape:
        raise ValueError(f"need equal-size samples, got {tuple(x.shape)} and {tuple(y.shape)}")
    directions = torch.randn(x.shape[1], projections, dtype=torch.float64, generator=rng)
    directions /= directions.norm(dim=0, keepdim=True)  # (d, P) unit vectors
    projected_x = (x @ directions).sort(dim=0).values  # (N, P): 1-D W1 = mean |sorted x - sorted y|
    projected_y = (y @ directions).sort(dim=0).values
    return (projected_x - projected_y).abs().mean().item()


def exact_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> float:
    """W1 between two empirical distributions of equal size, by optimal assignment (O(N^3))."""
    from scipy.optimize import linear_sum_assignment

    x, y = real.flatten(1).double().cpu(), fake.flatten(1).double().cpu()
    if x.shape != y.shape:
        raise ValueError(f"need equal-size samples, got {tuple(x.shape)} and {tuple(y.shape)}")
    cost = torch.cdist(
        x, y, compute_mode="donot_use_mm_for_euclid_dist"
    ).numpy()  # (N, N), exact: no |x|^2 - 2xy cancellation
    if not np.isfinite(cost).all():  # NaN samples (a diverged G under on_nonfinite=warn): no distance
        return float("nan")
    rows, cols = linear_sum_assignment(cost)
    return float(np.mean(cost[rows, cols]))
