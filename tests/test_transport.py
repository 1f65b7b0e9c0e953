"""probe.csv's transport cosines (grad_cosine_transport_*): against a plain float64 autograd cosine on a tiny
G and D, blank where a gradient has no direction, and drawing no random number the other columns use."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_repro.losses import generator_cost
from gan_repro.models import requires_grad
from gan_repro.pipeline import run
from gan_repro.probe import CostDirections, scaled_cost_gradients
from gan_repro.transport import signed_directions, transport_cosines
from tests.helpers import TINY, compose_config
from tests.test_grad_norms import tiny_pair
from tests.test_updates import brute_force_partners

pytestmark = pytest.mark.integration

COLUMNS = {
    "minimax": "grad_cosine_transport_minimax",
    "nonsaturating": "grad_cosine_transport_nonsaturating",
    "wasserstein": "grad_cosine_transport_generator",
    "least_squares": "grad_cosine_transport_generator",
}


def probe_cosine(
    generator, discriminator, z, reals, cost: str, sigma: float
) -> tuple[float | None, torch.Tensor]:
    """The probe's way: scaled gradients of a frozen G, their signed directions, the cosine with the
    transport loss's gradient; and the samples D saw."""
    noise = torch.Generator().manual_seed(5)
    _, grads, _, samples = scaled_cost_gradients(
        generator, discriminator, z, kinds=[cost], batched=False, sigma=sigma, rng=noise
    )
    directions = CostDirections(generator, z, (cost,), signed_directions(grads, [cost]))
    return directions.transport_cosines(samples, reals)[COLUMNS[cost]], samples


@pytest.mark.parametrize("sigma", [0.0, 0.3])
@pytest.mark.parametrize("cost", ["minimax", "nonsaturating", "wasserstein", "least_squares"])
def test_the_cosine_is_the_plain_autograd_cosine(cost: str, sigma: float) -> None:
    """cos(grad cost, grad T) by the book in float64, unscaled: the cost written in D's logits, T = 1/2 mean
    ||G(z) + eps - x*||^2 with brute-force optimal partners x*, both through plain backward."""
    generator, discriminator = tiny_pair(2)
    requires_grad(generator, False)  # frozen, as in the probe
    z, reals = torch.randn(6, 4), torch.rand(6, 6) * 2 - 1
    got, samples = probe_cosine(generator, discriminator, z, reals, cost, sigma)
    assert all(not p.requires_grad for p in generator.parameters())  # G left frozen
    with torch.no_grad():
        eps = (samples - generator(z)).double()  # the instance noise D's fakes carried (0 at sigma = 0)
    generator64, discriminator64 = copy.deepcopy(generator).double(), discriminator.double()
    requires_grad(generator64, True)
    fakes = generator64(z.double()) + eps
    partners = reals.double()[brute_force_partners(fakes.detach(), reals)]
    parameters = list(generator64.parameters())
    cost_gradient = torch.autograd.grad(
        generator_cost(discriminator64(fakes), cost), parameters, retain_graph=True
    )
    transport = 0.5 * (fakes - partners).pow(2).sum(dim=1).mean()
    transport_gradient = torch.autograd.grad(transport, parameters)
    first, second = (
        torch.cat([g.reshape(-1) for g in grads]) for grads in (cost_gradient, transport_gradient)
    )
    expected = float(first @ second / (first.norm() * second.norm()))
    assert abs(expected) > 0.05  # a sign error would show
    assert got == pytest.approx(expected, abs=1e-5)


def test_a_gradient_without_direction_gives_a_blank() -> None:
    """A D blind to its input gives G no gradient (0, not an underflow to undo): blank, never NaN. Fakes
    already on their partners give no transport direction: blank too."""
    generator, discriminator = tiny_pair(1)
    z, reals = torch.randn(5, 4), torch.rand(5, 6)
    with torch.no_grad():
        discriminator[0].weight.zero_()  # D's output no longer depends on x
    got, samples = probe_cosine(generator, discriminator, z, reals, "minimax", 0.0)
    assert got is None
    generator, discriminator = tiny_pair(1)
    got, samples = probe_cosine(generator, discriminator, z, reals, "nonsaturating", 0.0)
    assert got is not None and math.isfinite(got)
    directions = torch.ones(2, sum(p.numel() for p in generator.parameters()), dtype=torch.float64)
    assert transport_cosines(generator, z, samples, samples.clone(), directions) == [None, None]
    assert transport_cosines(generator, z, samples, reals[:4], directions) == [None, None]  # no 1-1 pairing
    broken = samples.clone()
    broken[0, 0] = math.nan  # a diverged G: NaN, for the run's non-finite policy to see
    assert all(math.isnan(value) for value in transport_cosines(generator, z, broken, reals, directions))


def test_the_cosine_draws_no_random_number(tmp_path: Path, monkeypatch) -> None:
    """Every other column of probe.csv is the same bits with the cosines left out (instance noise on, so
    the noise stream would show a draw too), and the cosines sit at the variance points only."""
    overrides = [
        *TINY,
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
        "probe.iterations=6",
        "probe.variance_every=6",
        "noise=constant",
        "critic=[gan,lsgan]",
    ]
    run(compose_config(overrides), tmp_path / "with")
    monkeypatch.setattr(CostDirections, "transport_cosines", lambda self, samples, reals: {})
    run(compose_config(overrides), tmp_path / "without")
    measured, plain = (pd.read_csv(tmp_path / name / "probe.csv") for name in ("with", "without"))
    cosines = list(dict.fromkeys(COLUMNS.values()))  # the three columns
    assert measured.drop(columns=cosines).equals(plain.drop(columns=cosines))
    assert plain[cosines].isna().all().all()
    at_variance_points = measured["iteration"].isin([0, 6])
    expected = {"gan": [True, True, False], "lsgan": [False, False, True]}  # minimax, -log D, generator
    for critic, present in expected.items():
        rows = measured["critic"] == critic
        for column, there in zip(cosines, present, strict=True):
            assert measured.loc[rows & at_variance_points, column].notna().all() == there
            assert measured.loc[rows & ~at_variance_points, column].isna().all()
