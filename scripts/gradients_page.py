#!/usr/bin/env python
"""docs/gradients.md: do G's gradients help? Written from finished seed sweeps (no typing by hand).

python scripts/gradients_page.py SWEEP_DIR [SWEEP_DIR ...] [--out docs/gradients.md]

Each SWEEP_DIR is a `gan-repro -m seed=... experiment=updates` or `experiment=critics` folder (a single run
folder also works: one seed). Per sweep the page gets its command (Hydra's multirun.yaml), and:
  experiment=updates (or updates_critics): per critic, snapshot, D stage and cost, whether k generator steps
      against the frozen D lower the exact W1 over its real-vs-real floor (help) or raise it (hurt), in how
      many seeds, the median change, and the transport cosine at k = 0; the same at each critic's strongest
      D (its last stage) beside where its own cost plateaus; the two updates claims over seeds;
  experiment=critics: per critic, snapshot and cost, where the critic's own cost plateaus, the gradient
      norm there over its start, its largest excursion up to there, and the transport cosine at the start
      and at the plateau; the band claims over seeds.
Each section shows its first seed's figure (copied to figures/gradients/ beside the page). Reads only the
runs' files (CSV, JSON, YAML, PNG), through gan_repro.api.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml
from results_page import spread, sweep_command

from gan_repro.api import Run, load_run, load_sweep
from gan_repro.errors import GanReproError
from gan_repro.report import MOMENTUM_CONTROL, format_value, snapshot_words, updates_changes
from gan_repro.writeup import table

UPDATES_CLAIMS = ("updates_strong_d_worsens", "updates_worse_than_momentum", "updates_weak_d_improves")
CRITICS_CLAIMS = ("critics_wgan_gp_band", "critics_minimax_band")
COST_WORDS = {
    "minimax": "log(1 - D) (Fig. 2)",
    "nonsaturating": "-log D (Fig. 3)",
    "wasserstein": "-E D(G(z))",
    "least_squares": "1/2 E (D(G(z)) - 1)^2",
}


def runs_of(folder: Path) -> list[Run]:
    """The finished runs of a sweep folder (or the one run a run folder holds)."""
    if (folder / "config.yaml").is_file():
        return [load_run(folder)]
    runs = [run for run in load_sweep(folder).runs.values() if run.summary]
    if not runs:
        raise SystemExit(f"error: SWEEP_DIR: {folder} holds no finished run; finish it, or give another")
    return runs


def command_of(folder: Path) -> str:
    """The command that made a sweep (multirun.yaml) or a single run (.hydra/overrides.yaml)."""
    overrides = folder / ".hydra" / "overrides.yaml"
    if not (folder / "config.yaml").is_file():
        return sweep_command(folder)
    if not overrides.is_file():
        return "(not recorded: no .hydra/overrides.yaml)"
    return shlex.join(["gan-repro", *yaml.safe_load(overrides.read_text())])


def over_seeds(values: list) -> str:
    """One seed's value as it is; several as 'median (min to max)'."""
    known = pd.Series(values, dtype=float).dropna()
    return format_value(float(known.iloc[0])) if len(known) == 1 else spread(known.tolist())


def verdict(changes: pd.Series) -> str:
    """'helps 3/3' when every seed's change in W1 is < 0, 'hurts 3/3' when every one is > 0, else 'mixed'."""
    count = len(changes)
    if (changes < 0).all():
        return f"helps {count}/{count}"
    if (changes > 0).all():
        return f"hurts {count}/{count}"
    return f"mixed ({int((changes < 0).sum())} of {count} help)"


def seed_changes(runs: list[Run]) -> pd.DataFrame:
    """Every seed's updates.csv with its change in W1 over the floor (report.updates_changes), its seed, and
    `beyond_momentum`: the change minus the momentum control's at the same snapshot, seed and k."""
    changes = pd.concat(
        updates_changes(run.tables["updates"]).assign(seed=int(run.config.seed)) for run in runs
    )
    keys = ["seed", "snapshot_iteration", "k"]
    control = changes[changes["critic"] == MOMENTUM_CONTROL[0]]
    alone = control.set_index(keys)["w1_change"].rename("momentum_change")
    changes = changes.join(alone, on=keys)
    return changes.assign(beyond_momentum=changes["w1_change"] - changes["momentum_change"])


def momentum_rows(runs: list[Run]) -> list[list[str]]:
    """Per snapshot, over seeds: the momentum control's change in W1 over its floor after the last k."""
    changes = seed_changes(runs)
    final = changes[(changes["critic"] == MOMENTUM_CONTROL[0]) & (changes["k"] == changes["k"].max())]
    return [
        [
            snapshot_words(int(snapshot), float(epoch)),
            f"{verdict(group['w1_change'])}: {over_seeds(group['w1_change'].tolist())}",
        ]
        for (snapshot, epoch), group in final.groupby(["snapshot_iteration", "snapshot_epoch"], sort=True)
    ]


def updates_rows(runs: list[Run]) -> list[list[str]]:
    """Per critic, snapshot, D stage and cost, over seeds: D's held-out accuracy, W1 over its floor at k = 0,
    the verdict and the median change after the last k, the transport cosine at k = 0."""
    changes = seed_changes(runs)
    changes = changes[changes["critic"] != MOMENTUM_CONTROL[0]]  # the arms with a D
    last = int(changes["k"].max())
    start, final = changes[changes["k"] == 0], changes[changes["k"] == last]
    keys = ["critic", "snapshot_iteration", "snapshot_epoch", "d_stage", "cost"]
    rows = []
    for (critic, snapshot, epoch, stage, cost), group in final.groupby(keys, sort=False):
        first = start[
            (start["critic"] == critic)
            & (start["snapshot_iteration"] == snapshot)
            & (start["d_stage"] == stage)
            & (start["cost"] == cost)
        ]
        rows.append(
            [
                critic,
                snapshot_words(int(snapshot), float(epoch)),
                int(stage),
                over_seeds(group["d_accuracy_heldout"].tolist()),
                COST_WORDS.get(cost, cost),
                over_seeds(first["wasserstein_exact_over_floor"].tolist()),
                f"{verdict(group['w1_change'])}: {over_seeds(group['w1_change'].tolist())}",
                over_seeds(first["transport_cosine"].tolist()),
            ]
        )
    return rows


def plateau_iterations(runs: list[Run], critic: str, snapshot: int) -> str:
    """Over seeds, the probe iteration where the critic's own cost plateaus against the snapshot (critics.csv;
    'n/a' without it), with how many seeds reached one."""
    tables = [run.tables["critics"] for run in runs if "critics" in run.tables]
    found = [rows[(rows["critic"] == critic) & (rows["snapshot_iteration"] == snapshot)] for rows in tables]
    iterations = [rows["plateau_iteration"].iloc[0] for rows in found if len(rows)]
    if not iterations:
        return "n/a"
    reached = pd.Series(iterations, dtype=float).notna()
    return f"{over_seeds(iterations)} ({int(reached.sum())}/{len(iterations)} reached)"


def strongest_rows(runs: list[Run]) -> list[list[str]]:
    """Per critic, cost and snapshot, over seeds, against the critic's strongest D (its last stage): where
    its own cost plateaus in the probe (critics.csv, when the run has it), the verdict and median change
    after the last k, and the transport cosine at k = 0."""
    changes = seed_changes(runs)
    changes = changes[changes["critic"] != MOMENTUM_CONTROL[0]]
    last = int(changes["k"].max())
    strongest = changes["d_stage"] == changes.groupby("critic")["d_stage"].transform("max")
    final, start = changes[strongest & (changes["k"] == last)], changes[strongest & (changes["k"] == 0)]
    rows = []
    keys = ["critic", "cost", "snapshot_iteration", "snapshot_epoch"]
    for (critic, cost, snapshot, epoch), group in final.groupby(keys, sort=False):
        first = start[
            (start["critic"] == critic) & (start["cost"] == cost) & (start["snapshot_iteration"] == snapshot)
        ]
        rows.append(
            [
                critic,
                COST_WORDS.get(cost, cost),
                snapshot_words(int(snapshot), float(epoch)),
                int(group["d_stage"].iloc[0]),
                plateau_iterations(runs, critic, int(snapshot)),
                f"{verdict(group['w1_change'])}: {over_seeds(group['w1_change'].tolist())}",
                f"{verdict(group['beyond_momentum'])}: {over_seeds(group['beyond_momentum'].tolist())}",
                over_seeds(first["transport_cosine"].tolist()),
            ]
        )
    return rows


def critics_rows(runs: list[Run]) -> list[list[str]]:
    """Per critic, snapshot and cost, over seeds: plateau reached, its iteration, the norm there over its
    start, the largest excursion up to it, and the transport cosine at the start and at the plateau."""
    critics = pd.concat(run.tables["critics"] for run in runs)
    rows = []
    keys = ["critic", "cost", "snapshot_iteration", "snapshot_epoch"]
    for (critic, cost, snapshot, epoch), group in critics.groupby(keys, sort=False):
        reached = group["plateau_reached"].astype(str).str.lower().eq("true")
        rows.append(
            [
                critic,
                COST_WORDS.get(cost, cost),
                snapshot_words(int(snapshot), float(epoch)),
                f"{int(reached.sum())}/{len(group)}",
                over_seeds(group["plateau_iteration"].tolist()),
                over_seeds(group["grad_norm_plateau_over_start"].tolist()),
                over_seeds(group["largest_excursion_to_plateau_orders"].tolist()),
                over_seeds(group["transport_cosine_start"].tolist()),
                over_seeds(group["transport_cosine_plateau"].tolist()),
            ]
        )
    return rows


def reported_claims(summary: dict) -> list[dict]:
    """summary.json's claims, and the critics claim's check (critics_claims.same_test_on_minimax)."""
    check = (summary.get("critics_claims") or {}).get("same_test_on_minimax")
    return [*summary.get("claims", []), *([check] if check else [])]


def claim_lines(runs: list[Run], claim_ids: tuple[str, ...]) -> list[str]:
    """Each claim over seeds: in how many it holds, its text and threshold, and each seed's values."""
    lines = []
    for claim_id in claim_ids:
        found = [
            (int(run.config.seed), claim)
            for run in runs
            for claim in reported_claims(run.summary)
            if claim["id"] == claim_id
        ]
        if not found:
            continue
        holds = sum(claim.get("holds") is True for _, claim in found)
        first = found[0][1]
        lines.append(
            f"- **{claim_id}**: holds in {holds}/{len(found)} seeds. {first['claim']}: "
            f'{first["threshold"]} ({first["unit"]}). The paper: "{first["paper"]}"'
        )
        for seed, claim in found:
            values = ", ".join(
                f"G after {snapshot} G steps: {format_value(value)}"
                for snapshot, value in zip(claim["snapshots"], claim["measured"], strict=True)
            )
            lines.append(f"  - seed {seed}: {values or 'not measured'}")
    return lines


def figure_lines(run: Run, name: str, page: Path) -> list[str]:
    """The first seed's figures/<name>.png copied beside the page (figures/gradients/) and shown."""
    source = run.figures.get(f"{name}.png")
    if source is None:
        return []
    target = page.parent / "figures" / "gradients" / f"{run.config.dataset.name}_{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    seed = int(run.config.seed)
    return [f"![{name}, seed {seed}]({target.relative_to(page.parent).as_posix()})", ""]


def section(folder: Path, page: Path) -> list[str]:
    """One sweep's section: its command, then its updates or critics tables, claims and figure."""
    runs = runs_of(folder)
    config = runs[0].config
    dataset, seeds = config.dataset.name, sorted(int(run.config.seed) for run in runs)
    lines = [f"## {dataset}: {folder.name} (seeds {', '.join(map(str, seeds))})", ""]
    lines += ["```", command_of(folder), "```", ""]
    if "updates" in runs[0].tables:
        headings = [
            "critic",
            "G",
            "D stage",
            "D held-out accuracy",
            "G's cost",
            "W1 over floor, k = 0",
            f"after {int(runs[0].tables['updates']['k'].max())} G steps: change in W1 over floor",
            "transport cosine, k = 0",
        ]
        lines += table(headings, updates_rows(runs)) + [""]
        if (runs[0].tables["updates"]["critic"] == MOMENTUM_CONTROL[0]).any():
            lines += ["The momentum control: the same Adam steps on a zero gradient, no D:", ""]
            lines += table(["G", "change in W1 over floor, same k"], momentum_rows(runs)) + [""]
        lines += claim_lines(runs, UPDATES_CLAIMS) + [""]
        critics = set(runs[0].tables["updates"]["critic"]) - {MOMENTUM_CONTROL[0]}
        if len(critics) > 1:  # experiment=updates_critics
            lines += ["Each critic's own cost against its strongest D (its last stage):", ""]
            lines += table(
                [
                    "critic",
                    "G's cost",
                    "G",
                    "D stage",
                    "its cost's plateau (probe iteration)",
                    f"after {int(runs[0].tables['updates']['k'].max())} G steps: change in W1 over floor",
                    "... minus the momentum control's",
                    "transport cosine, k = 0",
                ],
                strongest_rows(runs),
            ) + [""]
        lines += figure_lines(runs[0], "updates", page)
    if "critics" in runs[0].tables:
        headings = [
            "critic",
            "G's cost",
            "G",
            "plateau reached",
            "plateau iteration",
            "norm at plateau / start",
            "largest excursion to plateau (orders)",
            "transport cosine, start",
            "transport cosine, plateau",
        ]
        lines += table(headings, critics_rows(runs)) + [""] + claim_lines(runs, CRITICS_CLAIMS) + [""]
        lines += figure_lines(runs[0], "critics", page)
    return lines


def main(argv: list[str] | None = None) -> int:
    """Write the page from the sweeps named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=Path, metavar="SWEEP_DIR")
    parser.add_argument("--out", type=Path, default=Path("docs/gradients.md"))
    parser.add_argument("--intro", type=Path, default=Path("docs/gradients_intro.md"))
    args = parser.parse_args(argv)
    lines = [args.intro.read_text().rstrip(), ""] if args.intro.is_file() else []
    lines += ["<!-- written by scripts/gradients_page.py from the sweeps below: do not edit by hand -->", ""]
    try:
        for folder in args.sweeps:
            lines += section(folder, args.out)
    except GanReproError as error:  # not a run or sweep folder: one line, the page left as it was
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
