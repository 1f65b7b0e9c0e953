"""Instance noise: schedules, where it enters, and that sigma = 0 changes nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from gan_repro.errors import ConfigError
from gan_repro.noise import add_instance_noise, check_noise_config, stage_schedule
from gan_repro.pipeline import run
from gan_repro.probe import generator_grad_norms
from gan_repro.steps import discriminator_step, generator_step
from tests.helpers import REPO, TINY, compose_config, run_script, undeclared_columns

pytestmark = pytest.mark.integration


def schedule(*overrides: str, stage: str = "train"):
    return stage_schedule(compose_config(list(overrides)).noise, stage)


def test_schedules_first_middle_last() -> None:
    steps = 101
    first, middle, last = 0, 50, 100
    none = schedule("noise=none")
    assert [none.sigma(s, steps) for s in (first, middle, last)] == [0, 0, 0]
    constant = schedule("noise=constant", "noise.std=0.2")
    assert [constant.sigma(s, steps) for s in (first, middle, last)] == [0.2, 0.2, 0.2]
    linear = schedule("noise=linear", "noise.start=0.3", "noise.end=0.1")
    assert [linear.sigma(s, steps) for s in (first, middle, last)] == pytest.approx([0.3, 0.2, 0.1])
    exponential = schedule("noise=exponential", "noise.start=0.1", "noise.decay=0.99")
    assert [exponential.sigma(s, steps) for s in (first, middle, last)] == pytest.approx(
        [0.1, 0.1 * 0.99**50, 0.1 * 0.99**100]
    )


def test_schedule_per_stage() -> None:
    assert schedule("noise=schedule").kind == "linear"
    assert schedule("noise=schedule", stage="probe").sigma(7, 10) == 0.05
    assert schedule("noise=schedule", "noise.probe.kind=none", stage="probe").sigma(3, 10) == 0


@pytest.mark.parametrize(
    "overrides,setting",
    [
        (["noise=constant", "noise.std=-0.1"], "noise.std"),
        (["noise=constant", "noise.std=nan"], "noise.std"),
        (["noise=linear", "noise.start=inf"], "noise.start"),
        (["noise=exponential", "noise.decay=1.5"], "noise.decay"),
        (["noise=schedule", "noise.train.kind=gaussian"], "noise.train.kind"),
        (["noise=constant", "noise.clip_sigmas=0"], "noise.clip_sigmas"),
    ],
)
def test_bad_noise_settings_are_refused(overrides: list[str], setting: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_noise_config(compose_config(overrides).noise)
    assert error.value.setting == setting


def test_noise_stds_must_be_non_negative() -> None:
    with pytest.raises(ConfigError) as error:
        run(compose_config(TINY + ["probe.noise_stds=[0,-0.1]"]), Path("/nonexistent/never/written"))
    assert error.value.setting == "probe.noise_stds"


def test_added_noise_has_the_right_std_and_clip() -> None:
    torch.manual_seed(0)
    images = torch.zeros(200, 1, 32, 32)
    noisy = add_instance_noise(images, 0.3, clip_sigmas=2.0)
    # N(0, 1) clamped at +-c: E[Z^2] = P(|Z| < c) - 2c phi(c) + c^2 P(|Z| > c)
    c, inside = 2.0, math.erf(2.0 / math.sqrt(2))
    clamped_variance = inside - 2 * c * math.exp(-c * c / 2) / math.sqrt(2 * math.pi) + c * c * (1 - inside)
    assert noisy.std().item() == pytest.approx(0.3 * math.sqrt(clamped_variance), rel=0.02)  # 0.3 * 0.9595
    assert noisy.abs().max().item() == pytest.approx(0.6)
    assert add_instance_noise(images, 0.0, clip_sigmas=4.0) is images  # sigma = 0: untouched, no RNG drawn


class RecordingDiscriminator(nn.Module):
    """A linear D that remembers every input it saw."""

    def __init__(self, dimension: int):
        super().__init__()
        self.linear = nn.Linear(dimension, 1)
        self.inputs: list[torch.Tensor] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.inputs.append(images.detach().clone())
        return self.linear(images.flatten(1)).view(-1)


def test_noise_reaches_every_input_of_d_in_both_stages() -> None:
    torch.manual_seed(0)
    real, fake = torch.zeros(500, 64), torch.ones(500, 64)
    discriminator = RecordingDiscriminator(64)
    optimizer = torch.optim.SGD(discriminator.parameters(), lr=0.0)
    discriminator_step(discriminator, optimizer, real, fake, sigma=0.2, clip_sigmas=4.0)
    fake_for_g = fake.clone().requires_grad_(True)
    generator_step(discriminator, optimizer, fake_for_g, "nonsaturating", sigma=0.2, clip_sigmas=4.0)
    generator, z = nn.Sequential(nn.Linear(3, 64)), torch.randn(500, 3)
    generator_grad_norms(generator, discriminator, z, sigma=0.2, clip_sigmas=4.0)
    seen_real, seen_fake, seen_g_step, seen_probe = discriminator.inputs
    with torch.no_grad():
        clean = generator(z)
    for seen, original in ((seen_real, real), (seen_fake, fake), (seen_g_step, fake), (seen_probe, clean)):
        assert (seen - original).std().item() == pytest.approx(0.2, rel=0.03)


def test_probe_gradient_flows_through_the_noisy_samples() -> None:
    """||grad_theta E log(1 - D(G(z) + eps))|| with a fixed eps equals the hand-written float64 value.

    If the noisy sample were detached, there would be no gradient path to theta and this fails."""
    torch.manual_seed(1)
    generator = nn.Sequential(nn.Linear(3, 8), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(8, 6), nn.LeakyReLU(0.2), nn.Linear(6, 1), nn.Flatten(0))
    z = torch.randn(16, 3)
    torch.manual_seed(5)
    got = generator_grad_norms(generator, discriminator, z, sigma=0.5, clip_sigmas=4.0)
    torch.manual_seed(5)
    epsilon = add_instance_noise(torch.zeros(16, 8), 0.5, clip_sigmas=4.0)  # the same draw
    g64, d64 = generator.double(), discriminator.double()
    cost = -nn.functional.softplus(d64(g64(z.double()) + epsilon.double())).mean()  # E log(1 - D)
    grads = torch.autograd.grad(cost, list(g64.parameters()))
    expected = math.sqrt(sum(g.pow(2).sum().item() for g in grads))
    assert got["grad_norm_minimax"].item() == pytest.approx(expected, rel=1e-5)
    without = generator_grad_norms(generator.float(), discriminator.float(), z)
    assert without["grad_norm_minimax"].item() != pytest.approx(expected, rel=1e-3)


def test_sigma_zero_is_bit_identical_to_no_noise(tmp_path: Path) -> None:
    overrides = TINY + [
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
        "probe.iterations=4",
        "plot.formats=[png]",
    ]
    run(compose_config(overrides), tmp_path / "none")
    run(compose_config(overrides + ["noise=constant", "noise.std=0"]), tmp_path / "zero")
    for name in ("train.csv", "probe.csv", "snapshots.csv"):
        assert (tmp_path / "none" / name).read_text() == (tmp_path / "zero" / name).read_text(), name


def test_noise_sweep_and_annealed_training_end_to_end(tmp_path: Path) -> None:
    import pandas as pd

    cfg = compose_config(
        TINY
        + [
            "experiment=noise",
            "probe.iterations=12",
            "probe.noise_stds=[0,0.1]",
            "noise=linear",
            "noise.start=0.2",
            "noise.end=0",
            "plot.formats=[png]",
        ]
    )
    summary = run(cfg, tmp_path)
    train = pd.read_csv(tmp_path / "train.csv")
    assert train["noise_std"].iloc[0] == pytest.approx(0.2)
    assert train["noise_std"].iloc[-1] == pytest.approx(0)
    probe = pd.read_csv(tmp_path / "probe.csv")
    assert sorted(probe["sweep_noise_std"].unique()) == [0, 0.1]
    assert (probe.loc[probe["sweep_noise_std"] == 0.1, "noise_std"] == 0.1).all()
    table = pd.read_csv(tmp_path / "noise.csv")
    assert len(table) == 4 and table["bound_holds"].all()
    assert undeclared_columns(tmp_path) == {}  # noise.csv too
    assert summary["noise_bound_holds_everywhere"] is True
    assert (tmp_path / "figures" / "noise.png").is_file()
    assert (tmp_path / "figures" / "noise_bound.png").is_file()
    assert summary["snapshots"]["24"]["train_noise_std"] > 0
    for table_name, expected_rows in (("noise", 4), ("compare", 2)):
        result = run_script(REPO / "scripts" / "tables.py", table_name, str(tmp_path))
        assert result.returncode == 0, result.stderr
        printed = result.stdout.splitlines()
        assert len(printed) == 2 + expected_rows and printed[0].startswith("| ")
