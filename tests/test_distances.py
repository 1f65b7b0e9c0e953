"""Sliced and exact Wasserstein-1 against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gan_repro.distances import exact_wasserstein, sliced_wasserstein
from gan_repro.report import theorem_33_bound

pytestmark = pytest.mark.unit


def mean_abs_projection(dimension: int) -> float:
    """E|theta_1| for theta uniform on the unit sphere in R^d: Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))."""
    return math.exp(math.lgamma(dimension / 2) - math.lgamma((dimension + 1) / 2)) / math.sqrt(math.pi)


def test_point_masses() -> None:
    """delta_a vs delta_b: W1 = |a - b|, sliced W1 = |a - b| E|theta_1|."""
    a, b = torch.zeros(50, 2, 4, 4), torch.full((50, 2, 4, 4), 0.5)  # d = 32, |a - b| = 0.5 sqrt(32)
    distance = 0.5 * math.sqrt(32)
    assert exact_wasserstein(a, b) == pytest.approx(distance, rel=1e-12)
    sliced = sliced_wasserstein(a, b, projections=20000, rng=torch.Generator().manual_seed(0))
    assert sliced == pytest.approx(distance * mean_abs_projection(32), rel=0.01)


def test_one_dimensional_gaussians() -> None:
    """N(0, 1) vs N(2, 1) in 1-D: W1 = 2; in 1-D every projection is +-1, so sliced W1 = W1."""
    rng = torch.Generator().manual_seed(1)
    x = torch.randn(1000, 1, generator=rng)
    y = torch.randn(1000, 1, generator=rng) + 2
    assert exact_wasserstein(x, y) == pytest.approx(2.0, abs=0.1)
    sliced = sliced_wasserstein(x, y, projections=8, rng=rng)
    assert sliced == pytest.approx(exact_wasserstein(x, y), rel=1e-9)


def test_identical_samples_give_zero() -> None:
    x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    shuffled = x[torch.randperm(64)]
    assert exact_wasserstein(x, shuffled) == pytest.approx(0.0, abs=1e-12)
    assert sliced_wasserstein(x, shuffled, projections=16) == pytest.approx(0.0, abs=1e-12)


def test_sliced_is_below_exact() -> None:
    rng = torch.Generator().manual_seed(3)
    x, y = torch.randn(128, 10, generator=rng), torch.rand(128, 10, generator=rng)
    assert sliced_wasserstein(x, y, projections=64, rng=rng) < exact_wasserstein(x, y)


def test_unequal_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="equal-size"):
        exact_wasserstein(torch.zeros(3, 2), torch.zeros(4, 2))


def test_theorem_33_bound_parts() -> None:
    """sigma = 0 and JSD = 0: bound 0; JSD = log 2, sigma = 0: 2 * diameter * sqrt(log 2)."""
    assert theorem_33_bound(jsd=0.0, sigma=0.0, dimension=100, clip_sigmas=4) == 0.0
    assert theorem_33_bound(jsd=0.0, sigma=0.1, dimension=100, clip_sigmas=4) == pytest.approx(2 * 0.1 * 10)
    assert theorem_33_bound(jsd=math.log(2), sigma=0.0, dimension=100, clip_sigmas=4) == pytest.approx(
        2 * (2 * 10) * math.sqrt(math.log(2))
    )
