"""The probe's gradient norms against a hand-written autograd computation on a tiny G and D."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from gan_repro.probe import generator_grad_norms

pytestmark = pytest.mark.unit


def tiny_pair(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """A 2-layer G with BatchNorm (z: 4 -> 6) and a 2-layer D (6 -> logit)."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.2), nn.Linear(5, 1), nn.Flatten(0))
    return generator, discriminator


def reference_norm(generator: nn.Module, discriminator: nn.Module, z: torch.Tensor, kind: str) -> float:
    """||grad_theta cost|| by the book, in float64: cost written with log and sigmoid, plain backward."""
    generator, discriminator = generator.double(), discriminator.double()
    generator.zero_grad()
    probability = torch.sigmoid(discriminator(generator(z.double())))
    cost = torch.log(1 - probability).mean() if kind == "minimax" else -torch.log(probability).mean()
    cost.backward()
    return math.sqrt(sum(p.grad.double().pow(2).sum().item() for p in generator.parameters()))


@pytest.mark.parametrize("batched", [True, False])
def test_matches_hand_written_autograd(batched: bool) -> None:
    generator, discriminator = tiny_pair()
    z = torch.randn(7, 4)
    got = generator_grad_norms(generator, discriminator, z, batched=batched)
    for kind in ("minimax", "nonsaturating"):
        expected = reference_norm(*tiny_pair(), z, kind)
        assert got[f"grad_norm_{kind}"].item() == pytest.approx(expected, rel=1e-5)


def test_batched_equals_two_passes() -> None:
    generator, discriminator = tiny_pair(3)
    z = torch.randn(9, 4)
    batched = generator_grad_norms(generator, discriminator, z, batched=True)
    separate = generator_grad_norms(generator, discriminator, z, batched=False)
    for key in batched:
        assert batched[key].item() == pytest.approx(separate[key].item(), rel=1e-6)


def confident_pair(offset: float) -> tuple[nn.Module, nn.Module]:
    """tiny_pair with D's last bias at `offset`: every logit sits near it."""
    generator, discriminator = tiny_pair(1)
    with torch.no_grad():
        discriminator[2].bias.fill_(offset)
    return generator, discriminator


@pytest.mark.parametrize("offset", [-40.0, -120.0])
def test_vanishing_minimax_gradient_stays_positive_and_exact(offset: float) -> None:
    """A D sure that every fake is fake: d/dl log(1 - D) = -sigmoid(l) ~ e^offset.

    The float64 reference uses the stable form (softplus); at -120 the naive fp32 computation
    log(1 - sigmoid(l)) underflows to a gradient of exactly 0, ours keeps the value."""
    z = torch.randn(6, 4)
    got = generator_grad_norms(*confident_pair(offset), z)["grad_norm_minimax"].item()
    generator, discriminator = (m.double() for m in confident_pair(offset))
    cost = -nn.functional.softplus(discriminator(generator(z.double()))).mean()
    grads = torch.autograd.grad(cost, list(generator.parameters()))
    expected = math.sqrt(sum(g.pow(2).sum().item() for g in grads))
    assert 0 < expected < math.exp(offset / 2)
    assert got == pytest.approx(expected, rel=1e-4)
    if offset < -100:
        generator, discriminator = confident_pair(offset)
        naive = torch.autograd.grad(
            torch.log1p(-torch.sigmoid(discriminator(generator(z)))).mean(), list(generator.parameters())
        )
        assert sum(g.pow(2).sum().item() for g in naive) == 0.0


def test_leaves_generator_frozen() -> None:
    generator, discriminator = tiny_pair()
    for p in generator.parameters():
        p.requires_grad_(False)
    before = [p.clone() for p in generator.parameters()]
    generator_grad_norms(generator, discriminator, torch.randn(5, 4))
    assert all(not p.requires_grad and p.grad is None for p in generator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, generator.parameters(), strict=True))
