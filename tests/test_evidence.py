"""Evidence that can fail: one D per probe.csv row, a sigma sweep that differs only through the noise, a
held-out split, the relative variance, the negative control, and claims that fail where their phenomenon is
absent."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import gan_repro.probe
from gan_repro.data import TensorImages, split_dataset
from gan_repro.pipeline import run
from gan_repro.probe import SnapshotProbe, batch_statistics, relative_variance
from gan_repro.report import (
    CLAIM_THRESHOLDS,
    control_claims,
    curve_noise,
    format_claim,
    paper_claims,
    summarize_snapshot,
)
from tests.helpers import TINY, compose_config

pytestmark = pytest.mark.integration

SHORT = [*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=9", "probe.variance_every=4"]


def parameters_of(module: torch.nn.Module) -> torch.Tensor:
    """All of a module's parameters as one flat vector (a fingerprint of that D)."""
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_every_row_describes_d_after_that_iterations_step(tmp_path: Path, monkeypatch) -> None:
    seen: dict[str, list] = {"step": [], "measure": [], "evaluate": []}
    step, measure = gan_repro.probe.critic_step, gan_repro.probe.GeneratorSource.measure
    evaluate = SnapshotProbe.evaluate

    def counting_step(critic, discriminator, *args, **kwargs):
        result = step(critic, discriminator, *args, **kwargs)
        seen["step"].append(parameters_of(discriminator))  # D after this step
        return result

    def recording(name, original, position):
        def wrapper(self, *args, **kwargs):
            seen[name].append((len(seen["step"]), parameters_of(args[position])))
            return original(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(gan_repro.probe, "critic_step", counting_step)
    monkeypatch.setattr(gan_repro.probe.GeneratorSource, "measure", recording("measure", measure, 0))
    monkeypatch.setattr(SnapshotProbe, "evaluate", recording("evaluate", evaluate, 1))
    run(compose_config([*SHORT, "critic=gan"]), tmp_path)
    logged = pd.read_csv(tmp_path / "probe.csv")["iteration"].tolist()
    assert logged == [0, 3, 4, 6, 8, 9]  # the fresh D, then log_every=3 and variance_every=4
    assert [steps for steps, _ in seen["measure"]] == logged == [steps for steps, _ in seen["evaluate"]]
    for (steps, norms_d), (_, eval_d) in zip(seen["measure"], seen["evaluate"], strict=True):
        assert torch.equal(eval_d, norms_d)
        if steps:  # iteration 0 is measured before any step
            assert torch.equal(norms_d, seen["step"][steps - 1])


@pytest.mark.parametrize(
    ("overrides", "column", "values"),
    [
        (
            ["experiment=noise", "probe.noise_stds=[0,0.1]", "plot.figures=[noise]", "critic=gan"],
            "sweep_noise_std",
            [0, 0.1],
        ),
        (["critic=[gan,hinge]"], "critic", ["gan", "hinge"]),
    ],
)
def test_probe_units_of_a_snapshot_differ_only_in_what_they_vary(
    tmp_path: Path, monkeypatch, overrides: list[str], column: str, values: list
) -> None:
    """A sigma sweep differs only through the noise; critics differ only in the critic: every unit's D
    steps see the same real images and the same fakes (data order and z)."""
    inputs: list[tuple[torch.Tensor, torch.Tensor]] = []
    step = gan_repro.probe.critic_step

    def recording_step(critic, discriminator, optimizer, real, fake, **kwargs):
        inputs.append((real.clone(), fake.clone()))
        return step(critic, discriminator, optimizer, real, fake, **kwargs)

    monkeypatch.setattr(gan_repro.probe, "critic_step", recording_step)
    run(compose_config([*SHORT, *overrides, "probe.noise_iterations=9"]), tmp_path)
    first, second = inputs[:9], inputs[9:]
    assert len(second) == 9
    for (real_a, fake_a), (real_b, fake_b) in zip(first, second, strict=True):
        assert torch.equal(real_a, real_b) and torch.equal(fake_a, fake_b)  # same data order, same z
    rows = pd.read_csv(tmp_path / "probe.csv")
    assert not np.allclose(
        rows[rows[column] == values[0]]["d_loss"], rows[rows[column] == values[1]]["d_loss"]
    )


def test_the_heldout_split_is_fixed_disjoint_and_large_enough() -> None:
    images = torch.arange(1797, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(-1, 1, 1, 1)
    dataset = TensorImages(images.expand(-1, 1, 2, 2).contiguous())
    splits = split_dataset(dataset, fraction=0.1, minimum=256, seed=0)
    train, heldout = set(splits.train.indices.tolist()), set(splits.heldout.indices.tolist())
    assert len(heldout) == 256 and len(train) == 1797 - 256 and not train & heldout
    assert train | heldout == set(range(1797))
    again = split_dataset(dataset, fraction=0.1, minimum=256, seed=0)
    assert torch.equal(again.heldout.indices, splits.heldout.indices)  # fixed by the split's seed
    pools, halves = splits.control_pools, splits.heldout_halves
    assert not set(pools[0].indices.tolist()) & set(pools[1].indices.tolist())
    assert set(pools[0].indices.tolist()) | set(pools[1].indices.tolist()) == train
    assert {len(half) for half in halves} == {128} and not set(halves[0].indices.tolist()) & set(
        halves[1].indices.tolist()
    )
    assert len(split_dataset(dataset, fraction=0.3, minimum=256, seed=0).heldout) == 540  # 30% > 256


def test_mean_norm_and_spread_by_hand_and_without_underflow() -> None:
    """Iteration 0's norm is the mean of the K batch norms; the spread is sqrt(sum_k ||g_k - g||^2 / (K-1));
    a common factor 1/2 halves both; a factor exp(-800), below float64's range, makes them 0 (their true
    value, ~1e-348, is not representable) and leaves the relative variance unchanged."""
    g = torch.tensor([[[3.0, 4.0]], [[0.0, 1.0]], [[6.0, 8.0]]], dtype=torch.float64)  # (K=3, C=1, P=2)
    stats = batch_statistics(g, torch.zeros(3, 1, dtype=torch.float64))
    assert float(stats["mean_norm"][0]) == pytest.approx((5.0 + 1.0 + 10.0) / 3)
    mean = g.mean(0)
    assert float(stats["spread"][0]) == pytest.approx(float(((g - mean) ** 2).sum() / 2) ** 0.5)
    tiny = batch_statistics(g, torch.full((3, 1), -800.0, dtype=torch.float64))
    assert float(tiny["mean_norm"][0]) == 0.0 and float(tiny["relvar"][0]) == pytest.approx(
        float(stats["relvar"][0])
    )  # exp(-800) underflows float64 itself; the ratio does not
    halved = batch_statistics(g, torch.full((3, 1), -math.log(2.0), dtype=torch.float64))
    assert float(halved["mean_norm"][0]) == pytest.approx(float(stats["mean_norm"][0]) / 2)
    assert float(halved["spread"][0]) == pytest.approx(float(stats["spread"][0]) / 2)


def test_relative_variance_by_hand_and_without_underflow() -> None:
    g = torch.tensor([[[1.0, 0.0]], [[3.0, 0.0]], [[2.0, 3.0]]], dtype=torch.float64)  # (K=3, C=1, P=2)
    mean = g.mean(0)
    expected = ((g - mean) ** 2).sum() / (2 * (mean**2).sum())
    assert relative_variance(g, torch.zeros(3, 1, dtype=torch.float64))[0] == pytest.approx(float(expected))
    assert relative_variance(g.expand(3, 1, 2).clone()[:1].expand(3, 1, 2), torch.zeros(3, 1))[0] == 0.0
    # g_k = exp(-800) * scaled_k: exp(-800) is 0 in float64, but the ratio is scale-free
    assert relative_variance(g, torch.full((3, 1), -800.0, dtype=torch.float64))[0] == pytest.approx(
        float(expected)
    )
    shifted = relative_variance(
        g / torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)[:, None, None],
        torch.log(torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)),
    )
    assert shifted[0] == pytest.approx(float(expected))  # scaled vectors with their log factors: the same g


def synthetic_probe(
    *,
    accuracy: float = 1.0,
    d_loss_orders: float = 3.0,
    minimax_orders: float = 6.0,
    growth: float = 10.0,
    spread_growth: float = 4.0,
    noise: float = 0.05,
    noise_growth: float = 3.0,
    iterations: int = 4000,
    seed: int = 1,
) -> pd.DataFrame:
    """probe.csv rows of one snapshot, iteration 0 (the fresh D) to `iterations`: each quantity moves by the
    given factor with multiplicative noise; the -log D curve's noise grows by noise_growth along the probe."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, iterations + 1, iterations // 800)  # 801 rows, as the default probe logs (every 5th)
    fraction = steps / steps[-1]
    jitter = np.exp(rng.normal(0, noise, len(steps)))
    curve_jitter = np.exp(rng.normal(0, noise, len(steps)) * (1 + (noise_growth - 1) * fraction))
    variance_rows = steps % (iterations // 20) == 0  # iteration 0 and 20 more
    return pd.DataFrame(
        {
            "snapshot_iteration": 1,
            "snapshot_epoch": 1.0,
            "iteration": steps,
            "d_loss": 0.7 * 10 ** (-d_loss_orders * fraction) * jitter,
            "d_accuracy": np.where(steps == 0, 0.5, accuracy),
            "d_loss_heldout": 0.7 * 10 ** (-d_loss_orders * fraction) * jitter,
            "d_accuracy_heldout": np.where(steps == 0, 0.5, accuracy),
            "grad_norm_minimax": 9.0 * 10 ** (-minimax_orders * fraction) * jitter,
            "grad_norm_nonsaturating": 0.5 * growth**fraction * curve_jitter,
            "grad_relvar_nonsaturating": np.where(variance_rows, 0.3 * jitter, np.nan),
            "grad_spread_nonsaturating": np.where(
                variance_rows, 0.2 * spread_growth**fraction * jitter, np.nan
            ),
        }
    )


def verdicts(**changes: float) -> dict[str, bool | None]:
    """Each claim's verdict on a synthetic snapshot, by claim id."""
    snapshot = summarize_snapshot(synthetic_probe(**changes), window=10)
    return {claim["id"]: claim["holds"] for claim in paper_claims({"1": snapshot})}


def test_every_claim_holds_where_its_phenomenon_is_present() -> None:
    assert all(holds is True for holds in verdicts().values()), verdicts()


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"accuracy": 0.95}, "fig1_heldout_accuracy"),
        ({"d_loss_orders": 0.0}, "fig1_d_loss_decay"),
        ({"d_loss_orders": 1.5}, "fig1_d_loss_decay"),
        ({"minimax_orders": 0.0}, "fig2_minimax_decay"),
        ({"minimax_orders": 4.0}, "fig2_minimax_decay"),  # decays, but less than 5 orders at best
        ({"growth": 1.0, "noise": 0.3}, "fig3_nonsaturating_growth"),  # flat and noisy
        ({"growth": 1.5}, "fig3_nonsaturating_growth"),
        ({"noise_growth": 1.0}, "fig3_curve_noise"),  # steady noise around a growing curve
        ({"noise_growth": 1.0, "noise": 0.3}, "fig3_curve_noise"),  # loud but steady
        ({"spread_growth": 1.0}, "fig3_spread_growth"),
        ({"spread_growth": 1.5}, "fig3_spread_growth"),
    ],
)
def test_each_claim_fails_where_its_phenomenon_is_absent(change: dict, failing: str) -> None:
    result = verdicts(**change)
    assert result[failing] is False, result
    # a D that does not separate held-out images marks its G converged: the growth claims are then exempt
    exempt = {c for c in result if c.startswith("fig3_")} if failing == "fig1_heldout_accuracy" else set()
    assert all(result[c] is None for c in exempt), result
    assert all(holds is True for claim, holds in result.items() if claim not in {failing, *exempt}), result


def test_claims_start_at_the_fresh_d_not_at_a_window() -> None:
    """A drop that happens within the first window still counts: the claims read from iteration 0."""
    rows = synthetic_probe(minimax_orders=0.0)
    rows.loc[rows["iteration"] == 0, "grad_norm_minimax"] = 9.0e6  # 6 orders above the rest, at the start
    snapshot = summarize_snapshot(rows, window=10)
    assert snapshot["minimax_decay_orders"] == pytest.approx(6.0, abs=0.05)
    assert snapshot["grad_norm_minimax"]["first"] < 100  # a first-window mean would have hidden 5 orders


def test_the_five_orders_are_not_measured_on_a_shorter_probe() -> None:
    """Fig. 2's 5 orders are stated after 4000 D iterations: a 1000-iteration probe reports the decay and
    leaves the claim not measured, unless a gradient did not fall at all: that fails at any length."""
    result = verdicts(iterations=1000)
    assert result["fig2_minimax_decay"] is None
    assert all(holds is True for claim, holds in result.items() if claim != "fig2_minimax_decay"), result
    assert verdicts(iterations=1000, minimax_orders=-0.5)["fig2_minimax_decay"] is False


def test_the_five_orders_are_read_at_iteration_4000_on_a_longer_probe() -> None:
    """An 8000-iteration probe whose gradient falls 6 orders in all, 3 of them by iteration 4000: the paper's
    "5 orders after 4000 iterations" fails (the whole probe's 6 would have passed it)."""
    snapshot = summarize_snapshot(synthetic_probe(iterations=8000), window=10)
    assert snapshot["minimax_decay_orders"] == pytest.approx(6.0, abs=0.1)
    assert snapshot["minimax_decay_orders_at_4000"] == pytest.approx(3.0, abs=0.1)
    claim = {c["id"]: c for c in paper_claims({"1": snapshot})}["fig2_minimax_decay"]
    assert claim["holds"] is False


def test_the_curve_noise_claim_separates_steady_from_growing_noise_in_every_seed() -> None:
    """Over 20 noise draws of 800 logged points: steady noise stays below the 1.5 threshold in every one,
    noise that grows 3x along the probe stays above it in every one."""
    steady = [summarize_snapshot(synthetic_probe(noise_growth=1.0, seed=seed), 10) for seed in range(20)]
    growing = [summarize_snapshot(synthetic_probe(seed=seed), 10) for seed in range(20)]
    threshold = CLAIM_THRESHOLDS["curve_noise_growth"]
    assert max(s["curve_noise_growth"] for s in steady) < threshold
    assert min(s["curve_noise_growth"] for s in growing) >= threshold


def test_the_curve_noise_of_a_steep_rise_with_steady_noise_does_not_change() -> None:
    """The -log D norm jumps from 2.3 to 80 in the first 40 of 800 logged points (as the default run's do),
    with the same noise throughout: its scatter around the running trend must not grow or shrink (the
    local quadratic trend follows the rise, so it does not leak into the first tenth's residuals)."""
    steps = np.arange(0, 4001, 5)  # 801 rows: iteration 0 and 800 logged points
    rise = 2.3 * (80 / 2.3) ** np.clip(steps / 200, 0, 1)
    ratios = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        rows = pd.DataFrame(
            {"iteration": steps, "grad_norm_nonsaturating": rise * 10 ** rng.normal(0, 0.01, len(steps))}
        )
        ratios.append(curve_noise(rows, "grad_norm_nonsaturating", window=10)["growth"])
    assert 0.85 <= np.median(ratios) <= 1.15, ratios


def test_a_converged_snapshot_is_exempt_from_growth_only() -> None:
    """Converged (Sec. 2.3): the paper's D no longer separates held-out images. Such a snapshot fails Fig. 1
    and is exempt from the growth claims; a generator whose exact W1 is near the floor but that D separates
    perfectly is not exempt."""
    converged = summarize_snapshot(synthetic_probe(growth=1.0, accuracy=0.6), window=10)
    claims = {c["id"]: c for c in paper_claims({"25": converged})}
    growth = claims["fig3_nonsaturating_growth"]
    assert growth["holds"] is None and growth["unit"].endswith(
        "(D does not separate held-out images): the snapshot(s) after 25 G steps"
    )
    assert claims["fig1_heldout_accuracy"]["holds"] is False and claims["fig2_minimax_decay"]["holds"]
    separated = summarize_snapshot(synthetic_probe(growth=1.0), window=10)
    near_floor = {**separated, "wasserstein_exact": 10.5, "wasserstein_exact_real_real": 10.0}
    assert {c["id"]: c for c in paper_claims({"25": near_floor})}["fig3_nonsaturating_growth"][
        "holds"
    ] is False


def test_claims_carry_per_snapshot_verdicts() -> None:
    good, bad = (summarize_snapshot(synthetic_probe(growth=g), window=10) for g in (10.0, 1.2))
    claim = {c["id"]: c for c in paper_claims({"1": good, "10": bad})}["fig3_nonsaturating_growth"]
    assert claim["snapshots"] == ["1", "10"] and claim["snapshot_holds"] == [True, False]
    assert claim["holds"] is False


def test_the_negative_control_fails_figure_1s_claim(tmp_path: Path) -> None:
    summary = run(compose_config([*SHORT, "experiment=control", "probe.iterations=30"]), tmp_path)
    control = summary["control"]
    assert control["figure1_claim_on_control"]["holds"] is False
    assert abs(control["d_accuracy_heldout"]["end"] - 0.5) <= CLAIM_THRESHOLDS["control_accuracy_band"]
    assert summary["claims"][-1] == control["claim"] and control["claim"]["holds"]
    rows = pd.read_csv(tmp_path / "probe.csv")
    assert rows.loc[rows["snapshot_iteration"] == 0, "grad_norm_minimax"].isna().all()  # no G: no gradient
    assert (tmp_path / "figures" / "control.png").is_file()
    assert math.isfinite(control["d_loss_heldout"]["end"])


def test_control_claims_on_a_d_that_does_separate_held_out_images() -> None:
    separating = summarize_snapshot(synthetic_probe(), window=10)  # accuracy 1 on held-out images
    claims = control_claims(separating, {})
    assert claims["figure1_claim_on_control"]["holds"] and not claims["claim"]["holds"]


def test_claims_read_as_one_line_with_unit_and_threshold() -> None:
    claim = {
        "claim": "D's cost falls by orders of magnitude (Fig. 1)",
        "measured": [4.673181880693313, 2.5],
        "unit": "orders of magnitude",
        "threshold": ">= 2 orders, every snapshot",
        "holds": True,
    }
    assert format_claim(claim) == (
        "HOLDS  D's cost falls by orders of magnitude (Fig. 1): 4.67, 2.5 orders of "
        "magnitude (threshold: >= 2 orders, every snapshot)"
    )
