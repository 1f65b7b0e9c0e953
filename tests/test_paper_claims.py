"""The default `gan-repro` run (bundled digits, CPU) shows the paper's Figures 1-3 claims. Minutes: marked
slow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import REPO, run_cli, run_script


@pytest.mark.slow
def test_default_run_reproduces_the_papers_claims(tmp_path: Path) -> None:
    """The default run, judged as the README reports it: Figure 1's two claims hold at their thresholds. The
    Fig. 2 and 3 claims are measured and printed; on these data they miss their thresholds (the README
    shows which and by how much), so here only their direction is required: the minimax gradient falls by
    more than an order of magnitude for every snapshot and the -log D gradient ends above where it started."""
    run_dir = tmp_path / "run"
    result = run_cli("quiet=true", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr
    check = run_script(REPO / "scripts" / "check_claims.py", str(run_dir))
    print(check.stdout)
    assert check.returncode in (0, 1), check.stdout + check.stderr

    summary = json.loads((run_dir / "summary.json").read_text())
    verdicts = {claim["claim"].split(" (")[0]: claim["holds"] for claim in summary["claims"]}
    assert verdicts["D separates held-out real images from fakes: accuracy 1"]
    assert verdicts["D's cost falls by orders of magnitude"]
    snapshots = summary["snapshots"].values()
    assert all(snapshot["minimax_decay_orders"] > 1 for snapshot in snapshots)
    assert all(snapshot["nonsaturating_growth"] > 1 for snapshot in snapshots)
    probe = pd.read_csv(run_dir / "probe.csv")
    measured = probe[["d_loss", "d_loss_heldout", "grad_norm_minimax", "grad_norm_nonsaturating"]]
    assert measured.gt(0).all().all()  # tiny, never 0
    assert (check.returncode == 0) == all(verdicts.values())


@pytest.mark.slow
def test_noise_experiment_bound_holds_and_noise_keeps_gradients(tmp_path: Path) -> None:
    """experiment=noise on the default dataset: Theorem 3.3's bound holds at every (snapshot, sigma), and for
    the best (last) generator sigma = 0.3 keeps D's cost and the minimax gradient far above sigma = 0's."""
    run_dir = tmp_path / "run"
    # Half the small scale's 1000-iteration probe, asked for on the command line as a user may (the experiment
    # keeps the scale's length): 15 probes of 500 iterations keep this test near 5 minutes on 2 cores.
    result = run_cli(
        "experiment=noise",
        "probe.iterations=500",
        "quiet=true",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(run_dir / "noise.csv")
    print(table.to_string())
    assert len(table) == 15 and table["bound_holds"].all()
    last = table[table["snapshot_epoch"] == table["snapshot_epoch"].max()].set_index("noise_std")
    assert last.loc[0.3, "d_loss_end"] > 10 * last.loc[0.0, "d_loss_end"]
    assert last.loc[0.3, "grad_norm_minimax_end"] > 5 * last.loc[0.0, "grad_norm_minimax_end"]
    assert (run_dir / "figures" / "noise.png").is_file()
    assert (run_dir / "figures" / "noise_bound.png").is_file()
