"""The default `gan-repro` run (bundled photographs, CPU, the paper's 4000-iteration probe) and
experiment=noise, end to end through the console command. Minutes: marked slow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from gan_repro.cli import check_main
from gan_repro.report import format_claim
from tests.helpers import REPO, run_cli
from tests.test_docs import claims_block

pytestmark = pytest.mark.slow

SEEDS = 3  # the README's claims table: the default run with seed=0,1,2 (the default run is seed 0)


def seed_counts(text: str) -> tuple[int, int]:
    """'2 of 3 seeds' (maybe '... (1 not measured)') as (holds in, measured in)."""
    holds, measured = re.match(r"(\d+) of (\d+) seeds", text).groups()
    return int(holds), int(measured)


def readme_claims() -> dict[str, dict[str, tuple[int, int]]]:
    """The README's claims table (scripts/results_page.py), per claim text: in how many seeds it holds and
    was measured, as a whole (key '') and at each snapshot (key: its G steps)."""
    claims: dict[str, dict[str, tuple[int, int]]] = {}
    for line in claims_block((REPO / "README.md").read_text()).splitlines()[2:]:  # below heading and rule
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells[0]:  # a claim's first row: '<claim>: holds in k of n seeds'
            name, overall = cells[0].rsplit(": holds in ", 1)
            current = claims[name] = {"": seed_counts(overall)}
        current[re.fullmatch(r"after (\d+) G steps", cells[2]).group(1)] = seed_counts(cells[5])
    return claims


def agreed(holds: int, measured: int) -> bool | None:
    """The verdict every seed of the README's table gave (measured in all of them), else None."""
    if measured != SEEDS or 0 < holds < SEEDS:
        return None
    return holds == SEEDS


def test_default_run_reproduces_the_papers_claims(tmp_path: Path, capsys) -> None:
    """The default run (seed 0 of the README's three seeds) reports exactly the claims of the README's table,
    each measured, and each verdict, as a whole and per snapshot, is the one all three seeds gave wherever
    they agree (Figures 1 and 2 hold; Figure 3's claims fail at the first snapshot: docs/results.md says
    why); a verdict the seeds split on is not asserted. gan-repro-check prints every claim and exits 1
    because a claim fails; every snapshot's minimax gradient falls by more than 2 orders; every logged
    cost and norm is positive and finite."""
    run_dir = tmp_path / "run"
    result = run_cli("quiet=true", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr
    check = check_main([str(run_dir)])
    printed = capsys.readouterr().out

    summary = json.loads((run_dir / "summary.json").read_text())
    claims, published = {claim["claim"]: claim for claim in summary["claims"]}, readme_claims()
    assert sorted(claims) == sorted(published)  # every claim the run reports is in the table, and back
    for name, claim in claims.items():
        assert claim["holds"] is not None and format_claim(claim) in printed, name  # measured, printed
        assert agreed(*published[name][""]) in (None, claim["holds"]), (name, claim["measured"])
        verdicts = dict(zip(map(str, claim["snapshots"]), claim["snapshot_holds"], strict=True))
        assert sorted(verdicts) == sorted(published[name].keys() - {""}), name
        for steps, holds in verdicts.items():
            assert agreed(*published[name][steps]) in (None, holds), (name, steps, claim["measured"])
    fails = any(claim["holds"] is False for claim in claims.values())  # Figure 3's, in every seed
    assert check == int(fails), printed

    snapshots = summary["snapshots"]
    assert all(snapshot["minimax_decay_orders"] > 2 for snapshot in snapshots.values())
    assert set(summary["linear_control"]["heldout_accuracy"]) == set(snapshots)
    probe = pd.read_csv(run_dir / "probe.csv")
    paper = probe[probe["critic"] == "gan"]
    measured = paper[["d_loss", "d_loss_heldout", "grad_norm_minimax", "grad_norm_nonsaturating"]]
    assert measured.gt(0).all().all() and measured.abs().lt(float("inf")).all().all()  # tiny, never 0


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
