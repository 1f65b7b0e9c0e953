"""The default `gan-repro` run (bundled photographs, CPU, the paper's 4000-iteration probe) and
experiment=noise, end to end through the console command. Minutes: marked slow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gan_repro.cli import check_main
from tests.helpers import run_cli


@pytest.mark.slow
def test_default_run_reproduces_the_papers_claims(tmp_path: Path, capsys) -> None:
    """The default run, one seed (the README's verdicts come from three): Figure 1's two claims hold and
    Figure 2's minimax gradient falls by more than 2 orders for every snapshot, as in every seed of the
    README's sweep; the -log D gradient of the last snapshot ends far above its start. The other claims
    are measured and printed (docs/results.md shows where they fail and why); gan-repro-check's exit
    code agrees with the verdicts, and every logged cost and norm is positive and finite."""
    run_dir = tmp_path / "run"
    result = run_cli("quiet=true", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr
    check = check_main([str(run_dir)])
    printed = capsys.readouterr().out

    summary = json.loads((run_dir / "summary.json").read_text())
    verdicts = {claim["id"]: claim["holds"] for claim in summary["claims"]}
    assert verdicts["fig1_heldout_accuracy"] and verdicts["fig1_d_loss_decay"]
    assert verdicts["fig2_minimax_decay"] is not None  # measured: the probe is the paper's length
    snapshots = summary["snapshots"]
    assert all(snapshot["minimax_decay_orders"] > 2 for snapshot in snapshots.values())
    assert snapshots["2250"]["nonsaturating_growth"] > 2  # epoch 25: 90 G steps an epoch
    assert set(summary["linear_control"]["heldout_accuracy"]) == {"90", "900", "2250"}
    probe = pd.read_csv(run_dir / "probe.csv")
    paper = probe[probe["critic"] == "gan"]
    measured = paper[["d_loss", "d_loss_heldout", "grad_norm_minimax", "grad_norm_nonsaturating"]]
    assert measured.gt(0).all().all() and measured.abs().lt(float("inf")).all().all()  # tiny, never 0
    assert check == (0 if all(v is not False for v in verdicts.values()) else 1), printed


@pytest.mark.slow
def test_noise_experiment_bound_holds_and_noise_keeps_gradients(tmp_path: Path) -> None:
    """experiment=noise on the digits, where docs/noise.md measured it: Theorem 3.3's bound
    holds at every (snapshot, sigma), and for the best (last) generator sigma = 0.3 keeps D's cost and the
    minimax gradient far above sigma = 0's. On the default photographs the same command (seed 0) gave
    epoch 25's sigma = 0.3 an end cost 3.8x and a minimax gradient 7.0x sigma = 0's: the 10x on D's cost
    does not hold there (docs/noise.md)."""
    run_dir = tmp_path / "run"
    # Half the small scale's 1000-iteration noise probe: 15 probes of 500 iterations on the digits keep this
    # test near 3 minutes on 2 cores.
    result = run_cli(
        "experiment=noise",
        "dataset=digits",
        "probe.noise_iterations=500",
        "quiet=true",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(run_dir / "noise.csv")
    print(table.to_string())
    assert len(table) == 15 and table["bound_holds"].all()
    last = table[table["snapshot_iteration"] == table["snapshot_iteration"].max()].set_index("noise_std")
    assert last.loc[0.3, "d_loss_end"] > 10 * last.loc[0.0, "d_loss_end"]
    assert last.loc[0.3, "grad_norm_minimax_end"] > 5 * last.loc[0.0, "grad_norm_minimax_end"]
    assert (run_dir / "figures" / "noise.png").is_file()
    assert (run_dir / "figures" / "noise_bound.png").is_file()
