"""gan-repro-check: the paper's claims on a finished run or sweep, and whether they hold.

RUN_DIR: recomputes summary.json from the run's probe.csv (the run's own window, as gan-repro-plot does),
prints one line per claim (or the README's Markdown table) and fails (1) if any claim fails; a claim not
measured at this length does not fail. SWEEP_DIR: reads every finished run's summary.json and prints, per
group of runs that differ only in seed and per claim, the paper's words, per snapshot the median and range
over seeds, the threshold and in how many seeds the claim holds; fails unless every measured claim holds in
every seed (a claim not measured in a seed counts in neither). A folder with nothing to judge (no probe.csv,
an unfinished run, no claim measured) is a ConfigError naming `run_dir`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from gan_repro.aggregate import claims_summary, collect, find_run_folders, is_run_folder, job_status
from gan_repro.errors import ConfigError
from gan_repro.report import format_claim, format_value, refresh_summary
from gan_repro.runstate import check_run_format
from gan_repro.writeup import table


def check_folder(folder: Path, *, markdown: bool = False) -> int:
    """Print the claims of a run folder, or of a sweep folder over seeds; 0 when every measured claim holds,
    1 when one fails."""
    if (folder / "probe.csv").is_file():
        return check_run(folder, markdown=markdown)
    if folder.is_dir() and not is_run_folder(folder) and find_run_folders([folder]):
        return check_sweep(folder, markdown=markdown)
    raise ConfigError("run_dir", f"no probe.csv in {folder}")


def check_run(run_dir: Path, *, markdown: bool) -> int:
    """One finished run: a line per claim (or a Markdown table row); 1 if a claim fails."""
    check_run_format(run_dir)  # a folder of another format: its files may mean something else here
    status = job_status(run_dir)
    if status != "done":  # a running run's summary.json is its own to write, and its probes are partial
        raise ConfigError("run_dir", f"{run_dir} is not a finished run ({status}); check it once done")
    summary, changed = refresh_summary(run_dir)  # the run's own window, as gan-repro-plot uses
    for line in changed:
        print(f"summary.json: {line}", file=sys.stderr)
    if all(claim["holds"] is None for claim in summary["claims"]):  # no claim, or none measured: no verdict
        raise ConfigError(
            "run_dir",
            f"no claim could be measured in {run_dir} (its probe.csv has no fresh D's iteration 0 rows, or "
            "too few logged points to judge); nothing to check",
        )
    steps = ", ".join(summary["snapshots"])
    if markdown:
        print(f"| paper's claim | paper | this run (snapshots after G steps {steps}) | threshold | holds |")
        print("|---|---|---|---|---|")
    for claim in summary["claims"]:
        measured = f"{format_value(claim['measured'])} ({claim['unit']})"
        if markdown:
            verdict = {True: "yes", False: "NO"}.get(claim["holds"], "not measured")
            threshold = claim.get("threshold", "")
            print(f"| {claim['claim']} | {claim['paper']} | {measured} | {threshold} | {verdict} |")
        else:
            print(format_claim(claim))
    return 1 if any(claim["holds"] is False for claim in summary["claims"]) else 0  # not measured: no fail


def check_sweep(sweep: Path, *, markdown: bool) -> int:
    """A sweep: each claim over seeds (claims_summary, as gan-repro-plot writes it), one block per group."""
    collected = collect([sweep])
    for folder, status in collected["unfinished"].items():
        print(f"not finished, left out: {folder}: {status}", file=sys.stderr)
    summary = claims_summary(collected["claims"], collected["keys"])
    if summary.empty:
        raise ConfigError("run_dir", f"no finished run with claims under {sweep}")
    blocks = []
    for group, rows in summary.groupby("group", sort=False):
        seeds = sorted({seed for row_seeds in rows["seeds"] for seed in row_seeds})
        heading = f"{group}: seeds {', '.join(map(str, seeds))}"
        blocks.append("\n".join([heading, *(markdown_lines(rows) if markdown else text_lines(rows))]))
    print("\n\n".join(blocks))
    return 0 if (summary["claim_holds_in"] == summary["claim_measured_in"]).all() else 1


def spread(row: pd.Series) -> str:
    """'0.5 (0.4 to 0.7)': the median over seeds and its range, or 'not measured'."""
    if math.isnan(row["median"]):
        return "not measured"
    return f"{format_value(row['median'])} ({format_value(row['min'])} to {format_value(row['max'])})"


def seeds_holding(holds: int, measured: int, seeds: int) -> str:
    """'holds in k of n seeds', n the seeds where it was measured, and how many were not."""
    missing = f" ({seeds - measured} not measured)" if seeds > measured else ""
    return f"holds in {holds} of {measured} seeds{missing}"


def claim_verdict(rows: pd.DataFrame) -> tuple[str, str]:
    """A claim's verdict over seeds (HOLDS, FAILS, NOT MEASURED) and its 'holds in k of n seeds'."""
    first = rows.iloc[0]
    holds, measured = int(first["claim_holds_in"]), int(first["claim_measured_in"])
    seeds = len({seed for row_seeds in rows["seeds"] for seed in row_seeds})
    verdict = "NOT MEASURED" if not measured else "HOLDS" if holds == measured else "FAILS"
    return verdict, seeds_holding(holds, measured, seeds)


def snapshot_name(snapshot: str) -> str:
    """A snapshot key for reading: 'whole run' for a claim measured on the run as a whole."""
    return f"after {snapshot} G steps" if snapshot else "whole run"


def text_lines(summary: pd.DataFrame) -> list[str]:
    """Per claim: its verdict over seeds, then per snapshot the median and range and its seeds' verdicts."""
    lines = []
    for _, rows in summary.groupby("claim_id", sort=False):
        first = rows.iloc[0]
        verdict, holding = claim_verdict(rows)
        lines.append(
            f"{verdict:<6} {first['claim']}: {holding} (threshold: {first['threshold']}; "
            f"the paper: {first['paper']}; {first['unit']})"
        )
        for _, row in rows.iterrows():
            counts = seeds_holding(row["holds_in"], row["measured_in"], len(row["seeds"]))
            median = spread(row) if math.isnan(row["median"]) else f"median {spread(row)}"
            lines.append(f"    {snapshot_name(row['snapshot'])}: {median}, {counts}")
    return lines


def markdown_lines(summary: pd.DataFrame) -> list[str]:
    """The same as a Markdown table: the claim's words, unit and threshold on its first row only."""
    headings = ["paper's claim", "paper", "snapshot", "median over seeds (min to max)", "threshold", "holds"]
    rows = []
    for _, claim_rows in summary.groupby("claim_id", sort=False):
        first = claim_rows.iloc[0]
        _, holding = claim_verdict(claim_rows)
        for index, (_, row) in enumerate(claim_rows.iterrows()):
            once = index == 0
            rows.append(
                [
                    f"{first['claim']}: {holding}" if once else "",
                    first["paper"] if once else "",
                    snapshot_name(row["snapshot"]),
                    f"{spread(row)} ({first['unit']})" if once else spread(row),
                    first["threshold"] if once else "",
                    f"{row['holds_in']} of {row['measured_in']} seeds",
                ]
            )
    return table(headings, rows)
