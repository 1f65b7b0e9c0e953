#!/usr/bin/env python
"""Check the paper's claims on a finished run or sweep: `python scripts/check_claims.py DIR [--markdown]`.

RUN_DIR: recomputes summary.json from the run's probe.csv, prints one line per claim (or the README's
Markdown table) and exits 1 if any claim fails (a claim not measured at this length does not fail).
SWEEP_DIR: reads every finished run's summary.json and prints, per group of runs that differ only in seed
and per claim, the paper's words, per snapshot the median and range over seeds, the threshold and in how
many seeds the claim holds; exits 1 unless every measured claim holds in every seed (a claim not measured
in a seed counts in neither).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from gan_repro.report import format_claim, format_value, refresh_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder, or a sweep folder of runs")
    parser.add_argument("--markdown", action="store_true", help="print the README's table")
    args = parser.parse_args(argv)
    if not (args.run_dir / "probe.csv").is_file():
        from gan_repro.aggregate import find_run_folders, is_run_folder

        if args.run_dir.is_dir() and not is_run_folder(args.run_dir) and find_run_folders([args.run_dir]):
            return check_sweep(args.run_dir, markdown=args.markdown)
        print(f"error: run_dir: no probe.csv in {args.run_dir}", file=sys.stderr)
        return 2
    from gan_repro.aggregate import job_status

    status = job_status(args.run_dir)
    if status != "done":  # a running run's summary.json is its own to write, and its probes are partial
        print(
            f"error: run_dir: {args.run_dir} is not a finished run ({status}); check it once done",
            file=sys.stderr,
        )
        return 2
    summary, changed = refresh_summary(args.run_dir)  # the run's own window, as gan-repro-plot uses
    for line in changed:
        print(f"summary.json: {line}", file=sys.stderr)
    if all(claim["holds"] is None for claim in summary["claims"]):  # no claim, or none measured: no verdict
        print(
            f"error: run_dir: no claim could be measured in {args.run_dir} (a probe.csv without the fresh "
            "D's iteration 0 rows comes from another version: rerun the run's command)",
            file=sys.stderr,
        )
        return 2
    steps = ", ".join(summary["snapshots"])
    if args.markdown:
        print(f"| paper's claim | paper | this run (snapshots after G steps {steps}) | threshold | holds |")
        print("|---|---|---|---|---|")
    for claim in summary["claims"]:
        measured = f"{format_value(claim['measured'])} ({claim['unit']})"
        if args.markdown:
            verdict = {True: "yes", False: "NO"}.get(claim["holds"], "not measured")
            threshold = claim.get("threshold", "")
            print(f"| {claim['claim']} | {claim['paper']} | {measured} | {threshold} | {verdict} |")
        else:
            print(format_claim(claim))
    return 1 if any(claim["holds"] is False for claim in summary["claims"]) else 0  # not measured: no fail


def check_sweep(sweep: Path, *, markdown: bool) -> int:
    """A sweep: each claim over seeds (claims_summary, as gan-repro-plot writes it), one block per group."""
    from gan_repro.aggregate import claims_summary, collect

    collected = collect([sweep])
    for folder, status in collected["unfinished"].items():
        print(f"not finished, left out: {folder}: {status}", file=sys.stderr)
    summary = claims_summary(collected["claims"], collected["keys"])
    if summary.empty:
        print(f"error: run_dir: no finished run with claims under {sweep}", file=sys.stderr)
        return 2
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
    from gan_repro.writeup import table

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


if __name__ == "__main__":
    sys.exit(main())
