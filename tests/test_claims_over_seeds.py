"""Verdicts over seeds: a sweep's claims.csv (one row per run, claim and snapshot), claims_summary.csv (per
group and claim: median, range, in how many seeds it holds and was measured), gan-repro-check on a
sweep, and the run report's pointer to them. Sweeps written by hand: config.yaml, probe.csv, summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gan_repro.cli import check_main, plot_main
from gan_repro.columns import columns_of
from gan_repro.writeup import SEEDS_LINE, write_report
from tests.helpers import mark_finished

pytestmark = pytest.mark.integration


def claims_of(seed: int, *, growth_10: float = 3.0, minimax: bool | None = True) -> list[dict[str, Any]]:
    """A run's claims as summary.json holds them: two per-snapshot claims, one of them also judged as a whole
    (`minimax`: its verdict, None when not measured), and a scalar one."""
    growth = [2.0 + seed, growth_10]
    return [
        {
            "id": "fig3_nonsaturating_growth",
            "claim": "the -log D gradient grows (Fig. 3)",
            "paper": "grows quickly",
            "measured": growth,
            "snapshots": ["1", "10"],
            "snapshot_holds": [value >= 2 for value in growth],
            "unit": "end / first window, per snapshot",
            "threshold": ">= 2, every snapshot",
            "holds": all(value >= 2 for value in growth),
        },
        {
            "id": "fig2_minimax_decay",
            "claim": "the minimax gradient vanishes (Fig. 2)",
            "paper": "up to 5 orders",
            "measured": [1.0 + seed, 4.0],
            "snapshots": ["1", "10"],
            "snapshot_holds": [True, True],  # each falls; the best-snapshot part judges them together
            "unit": "orders of magnitude, per snapshot",
            "threshold": "> 0 every snapshot, >= 3 for the best",
            "holds": minimax,
        },
        {
            "id": "control_chance",
            "claim": "negative control: D at chance",
            "paper": "(our control)",
            "measured": 0.5 + seed / 100,
            "unit": "held-out accuracy",
            "threshold": "within 0.5 +- 0.1",
            "holds": True,
        },
    ]


def fake_run(folder: Path, *, seed: int, loss: str = "nonsaturating", **claims: Any) -> Path:
    """A finished run folder written by hand: config.yaml, a probe.csv, summary.json with its claims, and the
    state.json of this format."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"seed: {seed}\nloss:\n  name: {loss}\n")
    rows = {
        "snapshot_iteration": [1, 1],
        "snapshot_epoch": [1.0, 1.0],
        "iteration": [1, 2],
        "d_loss": [0.5, 0.1],
        "d_accuracy": [0.9, 1.0],
    }
    norms = {"grad_norm_minimax": [1.0, 0.1], "grad_norm_nonsaturating": [1.0, 2.0], "critic": ["gan", "gan"]}
    pd.DataFrame(rows | norms).to_csv(folder / "probe.csv", index=False)
    summary = {"status": "done", "seed": seed, "claims": claims_of(seed, **claims)}
    (folder / "summary.json").write_text(json.dumps(summary))
    return mark_finished(folder)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Three seeds: the growth claim fails at snapshot 10 in seed 2 (holds in 2 of 3), the minimax claim is
    not measured in seed 1 (holds in 2 of 2 measured)."""
    sweep = tmp_path / "sweep"
    for seed in (0, 1, 2):
        fake_run(
            sweep / str(seed),
            seed=seed,
            growth_10=1.5 if seed == 2 else 3.0 + seed,
            minimax=seed != 1 or None,
        )
    return sweep


def read_claims(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"snapshot": str, "claim_id": str}, keep_default_na=False)


# ----------------------------------------------------------------------------- claims.csv
def test_claims_csv_holds_one_row_per_run_claim_and_snapshot(sweep: Path) -> None:
    assert plot_main([str(sweep)]) == 0
    claims = read_claims(sweep / "claims.csv")
    assert list(claims.columns) == ["run", "seed", *columns_of("claims.csv")]
    assert len(claims) == 3 * (2 + 2 + 1)
    assert set(claims["run"]) == {str(sweep / seed) for seed in "012"}
    failing = claims[(claims["seed"] == 2) & (claims["claim_id"] == "fig3_nonsaturating_growth")]
    assert list(failing["snapshot"]) == ["1", "10"] and list(failing["value"]) == [4.0, 1.5]
    assert list(failing["holds"].astype(str)) == ["True", "False"]
    assert set(failing["claim_holds"].astype(str)) == {"False"}
    unmeasured = claims[(claims["seed"] == 1) & (claims["claim_id"] == "fig2_minimax_decay")]
    assert set(unmeasured["holds"].astype(str)) == {"True"}  # each snapshot's gradient falls ...
    assert set(unmeasured["claim_holds"]) == {""}  # ... and the claim as a whole is not measured (None)
    control = claims[claims["claim_id"] == "control_chance"]
    assert list(control["snapshot"]) == ["", "", ""] and list(control["value"]) == [0.5, 0.51, 0.52]


# ----------------------------------------------------------------------------- claims_summary.csv
def test_summary_counts_seeds_holding_and_measured(sweep: Path) -> None:
    assert plot_main([str(sweep)]) == 0
    summary = read_claims(sweep / "claims_summary.csv")
    assert list(summary.columns) == ["group", *columns_of("claims_summary.csv")]
    summary = summary.set_index(["claim_id", "snapshot"])
    growth = summary.loc[("fig3_nonsaturating_growth", "10")]
    assert (growth["median"], growth["min"], growth["max"]) == (3.0, 1.5, 4.0)
    assert (growth["holds_in"], growth["measured_in"]) == (2, 3)
    assert (growth["claim_holds_in"], growth["claim_measured_in"]) == (2, 3)
    assert growth["seeds"] == "[0, 1, 2]" and growth["group"] == "all runs"
    first = summary.loc[("fig3_nonsaturating_growth", "1")]
    assert (first["median"], first["holds_in"], first["measured_in"]) == (3.0, 3, 3)
    minimax = summary.loc[("fig2_minimax_decay", "1")]  # None in seed 1: neither holding nor measured
    assert (minimax["holds_in"], minimax["measured_in"], minimax["claim_measured_in"]) == (2, 2, 2)
    control = summary.loc[("control_chance", "")]
    assert (control["median"], control["min"], control["max"]) == (0.51, 0.5, 0.52)
    saved = json.loads((sweep / "aggregate.json").read_text())["claims_summary"]
    assert len(saved) == len(summary) and saved[0]["seeds"] == [0, 1, 2]


def test_runs_that_differ_in_more_than_the_seed_are_summarized_apart(tmp_path: Path) -> None:
    for seed in (0, 1):
        fake_run(tmp_path / f"ns{seed}", seed=seed)
        fake_run(tmp_path / f"mm{seed}", seed=seed, loss="minimax", growth_10=1.0)
    assert plot_main([str(tmp_path)]) == 0
    claims = read_claims(tmp_path / "claims.csv")
    assert list(claims.columns[:3]) == ["run", "seed", "loss.name"]
    summary = read_claims(tmp_path / "claims_summary.csv")
    growth = summary[(summary["claim_id"] == "fig3_nonsaturating_growth") & (summary["snapshot"] == "10")]
    assert dict(zip(growth["loss.name"], growth["holds_in"], strict=True)) == {
        "nonsaturating": 2,
        "minimax": 0,
    }
    assert set(growth["group"]) == {"trained with loss=minimax", "trained with loss=nonsaturating"}


# ----------------------------------------------------------------------------- gan-repro-check SWEEP_DIR
def test_check_claims_on_a_sweep_fails_when_a_seed_fails(sweep: Path, capsys) -> None:
    assert check_main([str(sweep)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("all runs: seeds 0, 1, 2\n")
    assert "FAILS  the -log D gradient grows (Fig. 3): holds in 2 of 3 seeds (threshold: >= 2" in out
    assert "    after 10 G steps: median 3 (1.5 to 4), holds in 2 of 3 seeds" in out
    assert "HOLDS  the minimax gradient vanishes (Fig. 2): holds in 2 of 2 seeds (1 not measured)" in out
    assert "    whole run: median 0.51 (0.5 to 0.52), holds in 3 of 3 seeds" in out
    assert check_main([str(sweep), "--markdown"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "| paper's claim | paper | snapshot | median over seeds (min to max) | threshold | holds |"
    )
    assert (
        "| the -log D gradient grows (Fig. 3): holds in 2 of 3 seeds | grows quickly | after 1 G steps "
        "| 3 (2 to 4) (end / first window, per snapshot) | >= 2, every snapshot | 3 of 3 seeds |"
    ) in lines
    assert "|  |  | after 10 G steps | 3 (1.5 to 4) |  | 2 of 3 seeds |" in lines


def test_check_claims_on_a_sweep_passes_when_every_measured_claim_holds(tmp_path: Path, capsys) -> None:
    for seed in (0, 1):
        fake_run(tmp_path / "sweep" / str(seed), seed=seed, minimax=None if seed else True)
    assert check_main([str(tmp_path / "sweep")]) == 0
    assert "FAILS" not in capsys.readouterr().out
    for seed in (2, 3):  # a claim measured in no seed is not measured, and fails nothing
        fake_run(tmp_path / "unmeasured" / str(seed), seed=seed, minimax=None)
    assert check_main([str(tmp_path / "unmeasured")]) == 0
    assert "NOT MEASURED the minimax gradient vanishes (Fig. 2): holds in 0 of 0 seeds (2 not measured)" in (
        capsys.readouterr().out
    )


def test_check_claims_keeps_refusing_a_run_folder_without_probe_csv(tmp_path: Path, capsys) -> None:
    folder = fake_run(tmp_path / "run", seed=0)
    (folder / "probe.csv").unlink()
    assert check_main([str(folder)]) == 2
    assert f"error: run_dir: no probe.csv in {folder}" in capsys.readouterr().err


def test_check_claims_refuses_a_run_that_has_not_finished(tmp_path: Path, capsys) -> None:
    """A running (or stopped) run's summary.json is its own to write, and its last probe is partial."""
    folder = fake_run(tmp_path / "run", seed=0)
    (folder / "summary.json").unlink()  # as while it runs: summary.json comes at the end
    (folder / "log.txt").write_text("train: epoch 1\n")
    assert check_main([str(folder)]) == 2
    assert "is not a finished run" in capsys.readouterr().err
    assert not (folder / "summary.json").exists()  # nothing written into it


def test_check_claims_refuses_a_run_where_no_claim_could_be_measured(tmp_path: Path, capsys) -> None:
    """A probe.csv without the fresh D's row (iteration 0): only the accuracy claim is left, and without a
    held-out accuracy nothing can be measured, which is not a pass."""
    folder = fake_run(tmp_path / "run", seed=0)
    assert 0 not in set(pd.read_csv(folder / "probe.csv")["iteration"])
    assert check_main([str(folder)]) == 2
    assert "no claim could be measured" in capsys.readouterr().err


# ----------------------------------------------------------------------------- report.md
def test_run_report_says_one_seed_is_one_sample(tmp_path: Path) -> None:
    folder = fake_run(tmp_path / "run", seed=0)
    lines = write_report(folder).read_text().splitlines()
    last_row = max(index for index, line in enumerate(lines) if line.startswith("| negative control"))
    assert lines[last_row + 1 : last_row + 3] == ["", SEEDS_LINE]
    assert SEEDS_LINE == (
        "One seed is one sample: verdicts over seeds come from `gan-repro -m seed=0,1,2` then "
        "`gan-repro-plot SWEEP_DIR` (claims.csv)."
    )
