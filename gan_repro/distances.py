"""Distances between real and generated samples that do not max out (Section 3), in pixel space.

Both take two equal-size samples, flattened to vectors, and use the Euclidean ground metric.
    sliced_wasserstein: E_theta W1(theta^T P, theta^T Q), theta uniform on the unit sphere,
                        estimated with `projections` random directions (a lower bound on W1).
    exact_wasserstein:  W1 between the two empirical distributions: the optimal assignment
                        (equal sizes, uniform weights: some permutation is an optimal coupling).
    transport_partners: the optimal assignment under the squared Euclidean cost (the empirical W2
                        coupling): each fake's real partner x*, for the transport direction (updates.py).
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


def euclidean_costs(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """(N, N) float64 Euclidean distances between two equal-size samples (N, ...), exact: no |x|^2 - 2xy
    cancellation."""
    x, y = first.flatten(1).double().cpu(), second.flatten(1).double().cpu()
    if x.shape != y.shape:
        raise ValueError(f"need equal-size samples, got {tuple(x.shape)} and {tuple(y.shape)}")
    return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist").numpy()


def exact_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> float:
    """W1 between two empirical distributions of equal size, by optimal assignment (O(N^3))."""
    from scipy.optimize import linear_sum_assignment

    cost = euclidean_costs(real, fake)
    if not np.isfinite(cost).all():  # NaN samples (a diverged G under on_nonfinite=warn): no distance
        return float("nan")
    rows, cols = linear_sum_assignment(cost)
    return float(np.mean(cost[rows, cols]))


def transport_partners(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(N,) int64: for fake i, the index of its partner among the reals in an optimal assignment under the
    squared Euclidean cost, the empirical W2 coupling (for W2, the displacement x* - G(z) is the gradient of
    -1/2 W2^2 with respect to the fake's position: the direction that transports it)."""
    from scipy.optimize import linear_sum_assignment

    cost = euclidean_costs(fake, real) ** 2
    if not np.isfinite(cost).all():
        raise ValueError("non-finite samples: no transport assignment")
    rows, cols = linear_sum_assignment(cost)  # rows come back as 0..N-1
    return torch.as_tensor(cols[np.argsort(rows)], dtype=torch.int64)
