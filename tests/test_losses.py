"""The costs in logits: correct against float64 closed forms, finite for logits of +-50 and beyond."""

from __future__ import annotations

import math

import pytest
import torch

from gan_repro.losses import discriminator_accuracy, discriminator_loss, generator_loss, log_cost_slopes

pytestmark = pytest.mark.unit


def log1p_exp(x: float) -> float:
    """log(1 + e^x) without overflow, in Python floats (float64)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@pytest.mark.parametrize("logit", [-150.0, -50.0, -3.0, 0.0, 3.0, 50.0, 150.0])
def test_generator_costs_match_closed_form(logit: float) -> None:
    logits = torch.full((4,), logit, dtype=torch.float64)
    minimax = generator_loss(logits, "minimax").item()  # E log(1 - D) = -log(1 + e^l)
    nonsaturating = generator_loss(logits, "nonsaturating").item()  # E -log D = log(1 + e^-l)
    assert math.isfinite(minimax) and math.isfinite(nonsaturating)
    assert minimax == pytest.approx(-log1p_exp(logit), rel=1e-12, abs=0)
    assert nonsaturating == pytest.approx(log1p_exp(-logit), rel=1e-12, abs=0)


def test_discriminator_cost_at_plus_minus_50_is_tiny_not_zero() -> None:
    """A perfect D (real +50, fake -50): cost e^-50 = 1.9e-22 in float64, never 0, inf or NaN."""
    real, fake = torch.full((8,), 50.0), torch.full((8,), -50.0)
    cost = discriminator_loss(real.double(), fake.double()).item()
    assert cost == pytest.approx(math.exp(-50), rel=1e-12)
    fp32 = discriminator_loss(real, fake)
    assert torch.isfinite(fp32) and fp32.item() > 0
    # the worst D (real -50, fake +50): cost 50, finite
    assert discriminator_loss(fake, real).item() == pytest.approx(50.0, rel=1e-6)


def test_fp32_gradients_finite_at_extremes() -> None:
    for value in (-50.0, 50.0, -150.0, 150.0):
        logits = torch.full((4,), value, requires_grad=True)
        for kind in ("minimax", "nonsaturating"):
            (grad,) = torch.autograd.grad(generator_loss(logits, kind), logits)
            assert torch.isfinite(grad).all()


@pytest.mark.parametrize("logit", [-200.0, -50.0, 0.0, 50.0, 200.0])
def test_log_cost_slopes_match_derivatives(logit: float) -> None:
    """log|d cost/d l_i| for a batch of 4: log sigmoid(l) - log 4 (minimax), log sigmoid(-l) - log 4."""
    logits = torch.full((4,), logit)
    minimax = log_cost_slopes(logits, "minimax")
    nonsaturating = log_cost_slopes(logits, "nonsaturating")
    assert minimax.dtype == torch.float64
    assert minimax[0].item() == pytest.approx(-log1p_exp(-logit) - math.log(4), rel=1e-12)
    assert nonsaturating[0].item() == pytest.approx(-log1p_exp(logit) - math.log(4), rel=1e-12)
    assert torch.isfinite(minimax).all() and torch.isfinite(nonsaturating).all()


def test_accuracy_threshold_one_half() -> None:
    real = torch.tensor([1.0, -1.0, 2.0, 0.5])  # 3 of 4 say "real" (l > 0)
    fake = torch.tensor([-1.0, -2.0, 3.0, -0.1])  # 3 of 4 say "fake" (l < 0)
    assert discriminator_accuracy(real, fake).item() == pytest.approx(6 / 8)


def test_unknown_generator_loss() -> None:
    with pytest.raises(ValueError, match="unknown generator loss"):
        generator_loss(torch.zeros(2), "wasserstein")
