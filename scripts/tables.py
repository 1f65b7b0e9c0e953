#!/usr/bin/env python
"""Markdown tables from finished runs (CSV and summary.json only, no training code).

python scripts/tables.py noise RUN_DIR          # experiment=noise: one row per (snapshot, sigma)
python scripts/tables.py compare RUN_DIR ...    # runs side by side per snapshot
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd


def number(value: float) -> str:
    """3 significant digits, blank for missing."""
    return "" if value is None or pd.isna(value) else f"{value:.3g}"


def noise_rows(run_dir: Path) -> list[str]:
    """The sigma sweep: final d_loss, final grad_norm_minimax, JSD estimate, Theorem 3.3's bound and the bound
    over the data's diameter 2 sqrt(d), the measured W1 and the exact W1's real-vs-real floor."""
    table = pd.read_csv(run_dir / "noise.csv")
    samples, floor_samples = (
        sample_count(run_dir, "exact_samples"),
        sample_count(run_dir, "exact_samples_real_real"),
    )
    lines = [
        "| snapshot (G steps) | σ | final d_loss | final grad_norm_minimax | JSD estimate (log 2 − d_loss) "
        f"| bound 2V½ + 2C·JSD½ | bound / 2√d | sliced W1 | exact W1 (n={samples}) "
        f"| exact W1 real vs real (n={floor_samples}) | bound ≥ W1 |",
        "|" + "---|" * 11,
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.snapshot_iteration} | {row.noise_std:g} | {number(row.d_loss_end)} | "
            f"{number(row.grad_norm_minimax_end)} | {number(row.jsd_estimate)} | {number(row.bound)} | "
            f"{number(getattr(row, 'bound_over_diameter', None))} | "
            f"{number(row.sliced_wasserstein)} | {number(row.wasserstein_exact)} | "
            f"{number(getattr(row, 'exact_w1_real_real', None))} | "
            f"{'yes' if row.bound_holds else 'NO'} |"
        )
    return lines


def sample_count(run_dir: Path, column: str) -> str:
    """Images of each kind a distance used, from snapshots.csv: '?' when absent, 'a–b' if it varies."""
    path = run_dir / "snapshots.csv"
    snapshots = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if column not in snapshots:
        return "?"
    counts = snapshots[column].astype(int)
    return "–".join(str(count) for count in sorted({counts.min(), counts.max()}))


def noise_label(noise: dict | None) -> str:
    """The run's noise setting in a few words."""
    if not noise or noise.get("kind") in (None, "none"):
        return "none"
    keys = ", ".join(f"{k}={v}" for k, v in noise.items() if k not in ("kind", "clip_sigmas"))
    return f"{noise['kind']} ({keys})"


def compare_rows(run_dirs: list[Path]) -> list[str]:
    """Per run and snapshot: training noise at the snapshot, sliced and exact W1, the probe's end values."""
    lines = [
        "| run | noise | snapshot (G steps) | σ at snapshot | sliced W1 | exact W1 (n=256) "
        "| probe end d_loss "
        "| probe end grad_norm_minimax |",
        "|" + "---|" * 8,
    ]
    for run_dir in run_dirs:
        summary = json.loads((run_dir / "summary.json").read_text())
        for epoch, snapshot in summary["snapshots"].items():
            lines.append(
                f"| {run_dir.name} | {noise_label(summary.get('noise'))} | {epoch} | "
                f"{number(snapshot.get('train_noise_std'))} | {number(snapshot.get('sliced_wasserstein'))} | "
                f"{number(snapshot.get('wasserstein_exact'))} | "
                f"{number(snapshot.get('d_loss', {}).get('end'))} | "
                f"{number(snapshot.get('grad_norm_minimax', {}).get('end'))} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("noise", "compare"))
    parser.add_argument("run_dirs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    needed = "noise.csv" if args.table == "noise" else "summary.json"
    for run_dir in args.run_dirs:
        if not (run_dir / needed).is_file():
            print(
                f"error: run_dir: no {needed} in {run_dir}"
                + ("; run gan-repro experiment=noise first" if args.table == "noise" else ""),
                file=sys.stderr,
            )
            return 2
    lines = noise_rows(args.run_dirs[0]) if args.table == "noise" else compare_rows(args.run_dirs)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
