#!/usr/bin/env python
"""docs/results.md and the README's claims table, written from finished seed sweeps (no typing by hand).

python scripts/results_page.py SWEEP_DIR [SWEEP_DIR ...] [--docs docs] [--readme README.md]

Each SWEEP_DIR is a `gan-repro -m seed=...` folder already aggregated by `gan-repro-plot SWEEP_DIR`. Per sweep
the page gets: the command (from Hydra's multirun.yaml), the runs' wall times, the claims over seeds (as
`gan-repro-check SWEEP_DIR --markdown` prints them), the probed generators over seeds (G steps, exact
W1 over the real-vs-real floor, the linear control's held-out accuracy), the sweep's figures and seed 0's
sample grids (copied under docs/figures/results/). The first sweep's claims table also replaces the README's
block between README_BEGIN and README_END. Reads only the sweeps' files (CSV, JSON, YAML, PNG).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml

from gan_repro.aggregate import claims_summary, collect
from gan_repro.report import format_value, snapshot_files
from gan_repro.verdicts import markdown_lines
from gan_repro.writeup import table

README_BEGIN = "<!-- results_page.py: claims begin -->"
README_END = "<!-- results_page.py: claims end -->"
FIGURES = ("fig1", "fig2", "fig3")  # the sweep's aggregate figures (mean over seeds with a band)


def sweep_command(sweep: Path) -> str:
    """The sweep's command line, from the overrides Hydra recorded in multirun.yaml."""
    path = sweep / "multirun.yaml"
    if not path.is_file():
        return "(not recorded: no multirun.yaml)"
    overrides = yaml.safe_load(path.read_text())["hydra"]["overrides"]["task"]
    return shlex.join(["gan-repro", "-m", *overrides])


def run_summaries(sweep: Path, collected: dict) -> dict[int, tuple[Path, dict]]:
    """{seed: (run folder, summary.json)} for the sweep's finished runs (collected: aggregate.collect's);
    refuses a sweep whose runs differ in more than the seed (one section is one setting), and names the
    runs that did not finish."""
    if set(collected["keys"]) - {"seed"}:
        raise SystemExit(
            f"error: SWEEP_DIR: {sweep} varies {collected['keys']}: give one seed sweep per setting"
        )
    for folder, status in collected["unfinished"].items():
        print(f"not finished, left out: {folder}: {status}", file=sys.stderr)
    runs = {}
    for folder in map(Path, collected["finished"]):
        seed = yaml.safe_load((folder / "config.yaml").read_text())["seed"]
        runs[int(seed)] = (folder, json.loads((folder / "summary.json").read_text()))
    return dict(sorted(runs.items()))


def spread(values: list[float]) -> str:
    """'median (min to max)' over seeds."""
    series = pd.Series(values, dtype=float).dropna()
    if series.empty:
        return "n/a"
    low, high = format_value(series.min()), format_value(series.max())
    return f"{format_value(series.median())} ({low} to {high})"


def generator_rows(runs: dict[int, tuple[Path, dict]]) -> list[list[str]]:
    """Per snapshot, over seeds: G steps, epoch, exact W1, W1 over the real-vs-real floor, linear D's
    accuracy."""
    keys = dict.fromkeys(key for _, summary in runs.values() for key in summary["snapshots"])
    rows = []
    for key in keys:
        snapshots = [s["snapshots"][key] for _, s in runs.values() if key in s["snapshots"]]
        linear = [
            (s.get("linear_control") or {}).get("heldout_accuracy", {}).get(key) for _, s in runs.values()
        ]
        epochs = sorted({format_value(s["train_epoch"]) for s in snapshots if "train_epoch" in s})
        ratios = [
            s["wasserstein_exact"] / s["wasserstein_exact_real_real"]
            for s in snapshots
            if s.get("wasserstein_exact_real_real")
        ]
        rows.append(
            [
                key,
                ", ".join(epochs),
                spread([s.get("wasserstein_exact") for s in snapshots]),
                spread(ratios),
                spread(linear),
            ]
        )
    return rows


def run_times(runs: dict[int, tuple[Path, dict]]) -> str:
    """'seed 0: 274 s; seed 1: 5 s (from the cache)': each run's stage times, and which it read from the
    cache (its log says so), since those took no time to compute."""
    parts = []
    for seed, (folder, summary) in runs.items():
        log = (folder / "log.txt").read_text(errors="replace") if (folder / "log.txt").is_file() else ""
        cached = [stage for stage in ("train", "probe") if f"{stage}: using the cached" in log]
        note = f" ({' and '.join(cached)} from the cache)" if cached else ""
        parts.append(f"seed {seed}: {sum(summary.get('timings_s', {}).values()):.0f} s{note}")
    return "; ".join(parts)


def copy_figures(sweep: Path, runs: dict[int, tuple[Path, dict]], target: Path, label: str) -> list[str]:
    """Copy the sweep's figures and the first seed's sample grids under target; their Markdown lines."""
    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in FIGURES:
        source = sweep / "figures" / f"{name}.png"
        if source.is_file():
            shutil.copyfile(source, target / f"{label}_{name}.png")
            lines += [f"![{label}: {name}, mean over seeds](figures/results/{label}_{name}.png)", ""]
    seed, (folder, _) = next(iter(runs.items()))
    for grid in snapshot_files(folder / "samples", ".png"):
        shutil.copyfile(grid, target / f"{label}_seed{seed}_{grid.name}")
        lines += [f"![{label}: seed {seed}, {grid.stem}](figures/results/{label}_seed{seed}_{grid.name})", ""]
    return lines


def sweep_section(sweep: Path, docs: Path) -> tuple[dict, list[str], list[str]]:
    """(a run's summary.json, the page's section for one sweep, its claims table as gan-repro-check
    SWEEP_DIR --markdown prints it). The sweep's runs are read once."""
    collected = collect([sweep])
    runs = run_summaries(sweep, collected)
    if not runs:
        raise SystemExit(f"error: SWEEP_DIR: no finished run under {sweep}")
    first_folder, first_summary = next(iter(runs.values()))
    dataset = yaml.safe_load((first_folder / "config.yaml").read_text())["dataset"]["name"]
    claims = markdown_lines(claims_summary(collected["claims"], collected["keys"]))
    lines = [
        f"## dataset={dataset}",
        "",
        "```",
        sweep_command(sweep),
        f"gan-repro-plot {sweep}",
        "```",
        "",
        f"Seeds {', '.join(map(str, runs))}. Time per run (summary.json's timings_s: data, train, probe, "
        f"plot): {run_times(runs)}.",
        "",
        "### The paper's claims over seeds",
        "",
        *claims,
        "",
        "### The probed generators",
        "",
        *table(
            [
                "G steps",
                "epoch",
                "exact W1",
                "W1 / real-vs-real floor",
                "linear D held-out accuracy",
            ],
            generator_rows(runs),
        ),
        "",
        "Cells are the median over seeds (min to max). A ratio near 1: the samples are as close to the "
        "data as two sets of real images.",
        "",
        "### Figures (mean over seeds) and seed samples",
        "",
        *copy_figures(sweep, runs, docs / "figures" / "results", dataset),
    ]
    return first_summary, lines, claims


def threshold_lines(summary: dict) -> list[str]:
    """Each claim with its threshold and the sentence of the paper it tests, from a run's summary.json (as
    gan_repro.report defines them)."""
    rows = [[c["claim"], c["threshold"], c["paper"]] for c in summary["claims"]]
    return [
        "## The claims, their thresholds and the paper's words",
        "",
        "Each claim is measured from the fresh D (iteration 0, gradient norms averaged over K z batches) to "
        "the end window (the last `plot.window` logged points, geometric means for costs and norms), as the "
        "figures draw the curves. The thresholds are `gan_repro/report.py`'s `CLAIM_THRESHOLDS`, written "
        "before these runs.",
        "",
        *table(["claim", "threshold", "the paper"], rows),
    ]


def replace_block(text: str, claims: list[str]) -> str:
    """The README's text with the claims table between its two markers (main checked they are there)."""
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return "\n".join([head + README_BEGIN, *claims, README_END]) + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sweeps", type=Path, nargs="+", help="aggregated seed sweeps; the first is the README's"
    )
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where results.md and figures go")
    parser.add_argument(
        "--readme", type=Path, default=Path("README.md"), help="whose claims block to rewrite"
    )
    args = parser.parse_args(argv)
    text = args.readme.read_text() if args.readme.is_file() else ""
    if README_BEGIN not in text or README_END not in text:  # checked before anything is written
        raise SystemExit(f"error: --readme: {args.readme} lacks the markers {README_BEGIN} ... {README_END}")
    sections = [sweep_section(sweep, args.docs) for sweep in args.sweeps]
    page = [
        "# Results",
        "",
        "Written by `python scripts/results_page.py " + " ".join(map(str, args.sweeps)) + "` from the "
        "sweeps' files; rerun it after new sweeps. Every number below comes from those runs.",
        "",
    ]
    for _, lines, _ in sections:
        page += [*lines, ""]
    page += threshold_lines(sections[0][0])
    (args.docs / "results.md").write_text("\n".join(page).rstrip() + "\n")
    args.readme.write_text(replace_block(text, sections[0][2]))
    print(f"wrote {args.docs / 'results.md'} and the claims block of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
