#!/usr/bin/env python
"""Check the paper's claims on a finished run: `python scripts/check_claims.py RUN_DIR [--markdown]`.

Recomputes summary.json from the run's probe.csv, prints one line per claim (or the README's
Markdown table) and exits 1 if any claim does not hold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gan_repro.report import format_claim, format_value, refresh_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print the README's table")
    args = parser.parse_args(argv)
    if not (args.run_dir / "probe.csv").is_file():
        print(f"error: run_dir: no probe.csv in {args.run_dir}", file=sys.stderr)
        return 2
    summary, changed = refresh_summary(args.run_dir)  # the run's own window, as gan-repro-plot uses
    for line in changed:
        print(f"summary.json: {line}", file=sys.stderr)
    epochs = ", ".join(summary["snapshots"])
    if args.markdown:
        print(f"| paper's claim | paper | this run (snapshots after epochs {epochs}) | threshold | holds |")
        print("|---|---|---|---|---|")
    for claim in summary["claims"]:
        measured = f"{format_value(claim['measured'])} ({claim['unit']})"
        if args.markdown:
            verdict = "yes" if claim["holds"] else "NO"
            threshold = claim.get("threshold", "")
            print(f"| {claim['claim']} | {claim['paper']} | {measured} | {threshold} | {verdict} |")
        else:
            print(format_claim(claim))
    return 0 if all(claim["holds"] for claim in summary["claims"]) else 1


if __name__ == "__main__":
    sys.exit(main())
