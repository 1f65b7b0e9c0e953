"""The linear-shortcut control (critic=linear): logistic regression on pixels, probed beside the paper's D.
It must flag a cue a linear D can use (an artifact off the upsampled digits' 64-dimensional subspace) and
must not flag data that carry none (real images against other real images)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from gan_repro.critics import critic_step, make_optimizer, probe_critics
from gan_repro.losses import decision_accuracy
from gan_repro.models import LinearDiscriminator
from gan_repro.report import CLAIM_THRESHOLDS, linear_claim, linear_control
from tests.helpers import compose_config, load_dataset

pytestmark = pytest.mark.integration


def digits(count: int = 1600) -> torch.Tensor:
    """The bundled digits, upsampled to 32x32 as the default digits run sees them: (count, 1, 32, 32)."""
    dataset = load_dataset(compose_config(["dataset=digits"]).dataset)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:count]
    return torch.stack([dataset[int(i)] for i in order]).float()


def heldout_accuracy(real: torch.Tensor, fake: torch.Tensor, steps: int = 600) -> float:
    """Train critic=linear (its own config: Adam as in training) on the first 80% of each set with the
    probe's step, then its accuracy on the other 20%."""
    critic = probe_critics(compose_config(["critic=linear"]).critic)[0]
    torch.manual_seed(0)
    discriminator = LinearDiscriminator(image_size=real.shape[-1], channels=real.shape[1])
    optimizer = make_optimizer(discriminator, critic)
    split = int(0.8 * len(real))
    for _ in range(steps):
        critic_step(
            critic,
            discriminator,
            optimizer,
            real[torch.randint(0, split, (64,))],
            fake[torch.randint(0, split, (64,))],
        )
    with torch.no_grad():
        return float(
            decision_accuracy(
                discriminator(real[split:]).double(), discriminator(fake[split:]).double(), "logistic"
            )
        )


def verdict(accuracy: float) -> dict:
    """summary.json's linear_control for one snapshot whose linear D reached this held-out accuracy."""
    linear = {"25": {"d_accuracy_heldout": {"end": accuracy}}}
    return linear_control(linear, linear_claim(linear, CLAIM_THRESHOLDS["heldout_accuracy"]), True)


def test_a_linear_d_flags_an_artifact_off_the_digits_subspace() -> None:
    """Fakes = other digits plus a faint checkerboard (a transposed convolution's artifact, 5% of the range):
    bilinear upsampling from 8x8 puts no energy there, so a linear D separates them, and the control says
    Figure 1 is explained by a linear cue."""
    images = digits()
    real, others = images[:800], images[800:]
    side = images.shape[-1]
    checkerboard = ((torch.arange(side)[:, None] + torch.arange(side)[None, :]) % 2 * 2 - 1).float()
    accuracy = heldout_accuracy(real, (others + 0.05 * checkerboard).clamp(-1, 1))
    assert accuracy >= CLAIM_THRESHOLDS["heldout_accuracy"]
    result = verdict(accuracy)
    assert result["linear_cue"] == {"25": True} and "explained by a linear cue" in result["verdict"]


def test_a_linear_d_does_not_flag_real_images_against_real_images() -> None:
    """Two disjoint sets of real digits: nothing separates them, so the control must not flag a cue."""
    images = digits()
    accuracy = heldout_accuracy(images[:800], images[800:])
    assert accuracy < 0.7
    result = verdict(accuracy)
    assert result["linear_cue"] == {"25": False} and "more than a linear cue" in result["verdict"]


def test_the_verdict_calls_figure_1_a_finding_only_where_it_holds_and_says_what_was_not_measured() -> None:
    linear = {"1": {"d_accuracy_heldout": {"end": 0.6}}, "25": {}}  # snapshot 25: no linear rows
    verdict = linear_claim(linear, CLAIM_THRESHOLDS["heldout_accuracy"])
    failed = linear_control(linear, verdict, False)
    assert failed["linear_cue"] == {"1": False, "25": None}
    assert (
        "no perfect D to explain" in failed["verdict"] and "not measured on the others" in failed["verdict"]
    )
    assert "more than a linear cue" in linear_control(linear, verdict, True)["verdict"]


def test_a_run_probes_the_linear_control_beside_the_papers_d(tiny_run) -> None:
    """The default critics: critic=linear's rows carry critic 'linear', no gradient of G, a fresh D at
    iteration 0; summary.json holds its accuracy per snapshot and the claim; Figure 1 is drawn."""
    _, run_dir, summary = tiny_run
    rows = pd.read_csv(run_dir / "probe.csv")
    linear = rows[rows["critic"] == "linear"]
    assert set(rows["critic"]) == {"gan", "linear"} and len(linear) == len(rows[rows["critic"] == "gan"])
    assert linear["grad_norm_minimax"].isna().all() and linear["iteration"].min() == 0
    assert set(summary["linear_control"]["heldout_accuracy"]) == {"24", "48"}  # 24 G steps an epoch
    claim = next(c for c in summary["claims"] if c["id"] == "linear_shortcut")
    assert claim["snapshots"] == ["24", "48"] and claim["holds"] in (True, False)
    assert (run_dir / "figures" / "fig1.png").is_file() and not (run_dir / "critics.csv").exists()


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_linear_critic_with_a_normalization_is_refused_in_one_line(norm: str) -> None:
    from gan_repro.config import check_config
    from gan_repro.errors import ConfigError

    with pytest.raises(ConfigError, match="critic.linear.norm"):
        check_config(compose_config(["critic=linear", f"critic.linear.norm={norm}"]))


def test_a_run_on_the_digits_flags_the_linear_cue_against_an_early_generator(tmp_path) -> None:
    """The whole protocol on the bundled digits (upsampled to 32x32, as dataset=digits runs them) against a
    generator after one epoch (24 G steps, as in docs/results.md's digits sweep, where the linear D reached 1
    in every seed): critic=linear alone, 400 D iterations; the control must call Figure 1 a linear cue."""
    from gan_repro.pipeline import run
    from tests.helpers import TINY

    overrides = [o for o in TINY if not o.startswith(("dataset.image_size", "probe.iterations"))]
    cfg = compose_config(
        [*overrides, "train.epochs=1", "train.snapshot_epochs=[1]", "critic=linear", "probe.iterations=400"]
    )
    summary = run(cfg, tmp_path)
    control = summary["linear_control"]
    assert control["linear_cue"] == {"24": True}, control  # after 24 G steps, epoch 1
    assert "explained by a linear cue" in control["verdict"]
