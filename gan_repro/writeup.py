"""report.md: one run folder as a page a student can paste into a seminar.

The command that made the run, its settings, the paper's claims against this run's values with their
thresholds, the noise table (experiment=noise), the figures and sample grids inline, the stage times and
the environment. It reads the run folder only (summary.json, config.yaml, .hydra/overrides.yaml and
hydra.yaml, figures/*.png, samples/*.png, noise.csv, environment.json), so `gan-repro-plot RUN_DIR`
rewrites it from the files, and any piece that is missing (no figures yet, a theory-lab run's summary)
is left out or said to be missing.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gan_repro.columns import headings
from gan_repro.files import atomic_write
from gan_repro.report import FIGURES, format_claim, format_value, saved_config, snapshot_file, snapshot_files
from gan_repro.runstate import ENVIRONMENT_NAME

# under the claims table: one run's verdicts are one sample; where verdicts over seeds come from
SEEDS_LINE = (
    "One seed is one sample: verdicts over seeds come from `gan-repro -m seed=0,1,2` then "
    "`gan-repro-plot SWEEP_DIR` (claims.csv)."
)


def write_report(run_dir: Path) -> Path:
    """Write run_dir/report.md (atomically) from what the run folder holds; returns its path."""
    run_dir = Path(run_dir)
    summary, config = read_summary(run_dir), saved_config(run_dir)
    sections = [
        title_lines(run_dir, summary),
        command_lines(run_dir),
        settings_lines(summary, config),
        claims_lines(summary.get("claims") or [], summary.get("measured_as")),
        seeds_lines(summary),
        snapshot_lines(run_dir, summary),
        noise_lines(run_dir),
        critics_lines(run_dir, summary),
        image_lines(run_dir),
        timing_lines(summary.get("timings_s") or {}),
        environment_lines(run_dir),
    ]
    text = "\n\n".join("\n".join(section) for section in sections if section) + "\n"
    return atomic_write(run_dir / "report.md", lambda handle: handle.write(text.encode()))


def read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json as a dict ({} when it is missing or unreadable: the report says so)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(headings: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(map(cell, headings)) + " |", "|" + "---|" * len(headings)]
    return lines + ["| " + " | ".join(map(cell, row)) + " |" for row in rows]


def title_lines(run_dir: Path, summary: dict[str, Any]) -> list[str]:
    """The heading (a lab run names its experiment) and the run's status when it is not done."""
    if "lab" in summary:
        lines = [f"# gan-repro theory lab: {summary['lab']}", "", f"Checks {summary.get('checks', '?')}."]
    else:
        lines = ["# gan-repro run: Arjovsky & Bottou (ICLR 2017), Figures 1-3"]
    lines += ["", f"Run folder `{run_dir.name}`."]
    if not summary:
        lines.append("No summary.json yet: the run has not finished (or its summary could not be read).")
    elif summary.get("status", "done") != "done":
        lines.append(f"Status: {summary['status']} ({summary.get('stopped_at', 'no reason recorded')}).")
    return lines


def command_lines(run_dir: Path) -> list[str]:
    """The command that made the run: gan-repro, the overrides Hydra recorded and the user's config folders
    it read, shell-quoted."""
    overrides = recorded_overrides(run_dir)
    note = (
        [] if overrides is not None else ["", "(The overrides were not recorded: no .hydra/overrides.yaml.)"]
    )
    folders = user_config_folders(run_dir)
    search = [f"hydra.searchpath=[{','.join(f'file://{folder}' for folder in folders)}]"] if folders else []
    if folders:  # the user's own critics, models or datasets (docs/extending.md): their modules too
        note += ["", "(The modules its `_target_`s name must be importable: on PYTHONPATH, or installed.)"]
    return ["## Command", "", "```", shlex.join(["gan-repro", *(overrides or []), *search]), "```", *note]


USER_CONFIG_SOURCES = ("command-line", "hydra.searchpath in command-line")  # --config-dir, hydra.searchpath


def user_config_folders(run_dir: Path) -> list[str]:
    """The config folders of the user's own that the run read (--config-dir, hydra.searchpath), as Hydra
    recorded them in .hydra/hydra.yaml (absolute paths); [] when none, or nothing was recorded."""
    from omegaconf import OmegaConf

    path = run_dir / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return []
    sources = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.config_sources", default=None) or []
    return [
        str(source.path)
        for source in sources
        if source.get("schema") == "file" and source.get("provider") in USER_CONFIG_SOURCES
    ]


def recorded_overrides(run_dir: Path) -> list[str] | None:
    """The command-line overrides in .hydra/overrides.yaml (None when there is none)."""
    from omegaconf import OmegaConf

    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    overrides = OmegaConf.to_container(OmegaConf.load(path))
    return [str(item) for item in overrides] if isinstance(overrides, list) else None


def settings_lines(summary: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """One line of settings: from summary.json, else config.yaml (a lab: its name and seed)."""
    if "lab" in summary:
        return ["## Settings", "", f"lab {summary['lab']}, seed {summary.get('seed', config.get('seed'))}"]
    fields = {
        "dataset": summary.get("dataset", (config.get("dataset") or {}).get("name")),
        "model": summary.get("model", (config.get("model") or {}).get("name")),
        "loss": summary.get("loss", (config.get("loss") or {}).get("name")),
        "noise": noise_words(summary.get("noise", config.get("noise"))),
        "seed": summary.get("seed", config.get("seed")),
        "device": summary.get("device", config.get("device")),
        "torch": summary.get("torch"),
        "image size": (config.get("dataset") or {}).get("image_size"),
        "probe iterations": (config.get("probe") or {}).get("iterations"),
    }
    words = ", ".join(f"{name} {value}" for name, value in fields.items() if value is not None)
    return ["## Settings", "", words] if words else []


def noise_words(noise: Any) -> str | None:
    """The noise setting in a few words: 'none', or its kind and parameters."""
    if not isinstance(noise, dict):
        return None if noise is None else str(noise)
    if noise.get("kind") in (None, "none"):
        return "none"
    keys = ", ".join(f"{k}={v}" for k, v in noise.items() if k not in ("kind", "clip_sigmas"))
    return f"{noise['kind']} ({keys})"


def claims_lines(claims: Sequence[dict[str, Any]], measured_as: str | None = None) -> list[str]:
    """The claims table: the paper's claim and value, this run's value with its unit, threshold, verdict;
    then how the values were measured, when summary.json says."""
    if not claims:
        return []
    rows = [
        [
            claim.get("claim", ""),
            claim.get("paper", ""),
            format_value(claim.get("measured")) + (f" ({claim['unit']})" if claim.get("unit") else ""),
            claim.get("threshold", ""),
            {True: "yes", False: "no"}.get(claim.get("holds"), "not measured"),
        ]
        for claim in claims
    ]
    headings = ["the paper's claim", "the paper's value", "this run", "threshold", "holds"]
    note = ["", f"Measured as: {measured_as}."] if measured_as else []
    return ["## The paper's claims", "", *table(headings, rows), *note]


def snapshot_lines(run_dir: Path, summary: dict[str, Any]) -> list[str]:
    """The probed generators: per snapshot its G steps and epoch, its exact W1 to the data over the
    real-vs-real floor (1 = as close as two real samples), the linear control's held-out accuracy, and its
    sample grid; then the linear control's verdict on Figure 1."""
    snapshots = {key: s for key, s in (summary.get("snapshots") or {}).items() if "train_iteration" in s}
    if not snapshots:
        return []
    linear = summary.get("linear_control") or {}
    rows = []
    for key, snapshot in snapshots.items():
        floor = snapshot.get("wasserstein_exact_real_real")
        grid = run_dir / "samples" / snapshot_file(int(key), ".png")
        rows.append(
            [
                snapshot["train_iteration"],
                format_value(snapshot["train_epoch"]),
                format_value(snapshot.get("wasserstein_exact")),
                format_value(snapshot["wasserstein_exact"] / floor) if floor else "n/a",
                format_value((linear.get("heldout_accuracy") or {}).get(key)),
                f"[samples](samples/{grid.name})" if grid.is_file() else "missing",
            ]
        )
    headings = [
        "G steps",
        "epoch",
        "exact W1",
        "W1 / real-vs-real floor",
        "linear D held-out accuracy",
        "samples",
    ]
    verdict = ["", f"Linear-shortcut control: {linear['verdict']}."] if linear.get("verdict") else []
    return ["## The probed generators", "", *table(headings, rows), *verdict]


def seeds_lines(summary: dict[str, Any]) -> list[str]:
    """Under the claims table, that one run is one seed and where verdicts over seeds come from (not for a
    theory-lab run: its sweeps have no probe.csv to aggregate)."""
    return [SEEDS_LINE] if summary.get("claims") and "lab" not in summary else []


def noise_lines(run_dir: Path) -> list[str]:
    """experiment=noise: noise.csv as a table, one row per (snapshot, sigma)."""
    path = run_dir / "noise.csv"
    if not path.is_file():
        return []
    frame, names = pd.read_csv(path), headings("noise.csv")
    rows = [[noise_cell(record[column]) for column in names] for record in frame.to_dict("records")]
    heading = "## Section 3: instance noise and Theorem 3.3 (bound / 2√d ≥ 1: the bound says nothing)"
    return [heading, "", *table(list(names.values()), rows)]


def critics_lines(run_dir: Path, summary: dict[str, Any]) -> list[str]:
    """experiment=critics: critics.csv as a table, one row per (critic, snapshot, cost), and the band test
    applied to the minimax gradient, where it should fail."""
    path = run_dir / "critics.csv"
    if not path.is_file():
        return []
    frame, names = pd.read_csv(path), headings("critics.csv")
    columns = [column for column in names if column in frame]
    rows = [[noise_cell(record[column]) for column in columns] for record in frame.to_dict("records")]
    lines = [
        "## Which generator costs survive a trained discriminator (critics.csv)",
        "",
        "First and end are geometric means over the first and last windows of logged points; the largest "
        "excursion is the farthest any window mean strays from the first, in orders of magnitude. "
        "cos(∇, transport) is the cosine of the cost's descent direction with the transport direction "
        "E[Jᵀ(x* − G(z))], x* each fake's partner in an optimal assignment to a real batch (> 0: the step "
        "moves the samples towards their partners), at the fresh D and over the end window of the "
        "variance points. The plateau is where the critic's own cost settled (report.cost_plateau, "
        "probe.plateau_window and probe.plateau_fraction in config.yaml): critics are compared there, each "
        "at the same point of its own training; blank where its cost still moved when its iterations ended.",
        "",
        *table([names[column] for column in columns], rows),
    ]
    check = (summary.get("critics_claims") or {}).get("same_test_on_minimax")
    if check and check.get("measured"):  # critic=gan was probed: the test applied where it should fail
        lines += ["", f"The same band test on a gradient the paper says vanishes: {format_claim(check)}"]
    return lines


def noise_cell(value: Any) -> str:
    """A noise.csv value: yes/no for booleans, blank for missing, 3 significant digits for other numbers."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if math.isnan(value) else format_value(value)
    return str(value)


def image_lines(run_dir: Path) -> list[str]:
    """The figures (figures/*.png, the paper's order first) and the sample grids (samples/*.png), inline."""
    order = {name: index for index, name in enumerate(FIGURES)}
    figures = sorted(
        (path for path in (run_dir / "figures").glob("*.png") if path.stem != "samples"),
        key=lambda path: (order.get(path.stem, len(order)), path.stem),
    )  # figures/samples.png holds the grids below side by side
    grids = snapshot_files(run_dir / "samples", ".png")
    lines: list[str] = []
    for heading, folder, paths in (("Figures", "figures", figures), ("Samples", "samples", grids)):
        if paths:  # each image its own paragraph, so they stack instead of running side by side
            lines += [f"## {heading}", ""]
            lines += [line for path in paths for line in (f"![{path.stem}]({folder}/{path.name})", "")]
    return lines[:-1]  # no blank line at the end: sections are joined by one


def timing_lines(timings: dict[str, Any]) -> list[str]:
    """The stage times from summary.json's timings_s ('train_s' -> 'train'), and their total."""
    seconds = {name.removesuffix("_s"): float(value) for name, value in timings.items()}
    if not seconds:
        return []
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    return ["## Stage times", "", f"{parts}; total {sum(seconds.values()):.1f} s"]


def environment_lines(run_dir: Path) -> list[str]:
    """What the run last started with (environment.json): the commit, the code's hash, the versions."""
    try:
        environment = json.loads((run_dir / ENVIRONMENT_NAME).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(environment, dict):
        return []
    commit = environment.get("git_commit")
    code = f"commit {commit}" if commit else "not a git checkout"
    if commit and environment.get("git_dirty"):
        code += " with uncommitted changes"
    versions = {
        "Python": environment.get("python"),
        "torch": environment.get("torch"),
        "CUDA": environment.get("cuda") or "none",
        "cuDNN": environment.get("cudnn") or "none",
        **(environment.get("packages") or {}),
    }
    words = ", ".join(f"{name} {value}" for name, value in versions.items() if value is not None)
    return ["## Environment", "", f"{code}; code hash {environment.get('code_version')}.", "", words]


def write_or_check_page(
    argv: list[str] | None, *, description: str, default: Path, render: Callable[[str], str], script: str
) -> int:
    """A generated docs page's command line (scripts/*_page.py): write render(the page's current text, '' if
    none) to --out, or with --check exit 1, in one line, when the page differs from it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default, help="the page to write or check")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the page differs")
    args = parser.parse_args(argv)
    current = args.out.read_text() if args.out.is_file() else ""
    if args.check:
        if current != render(current):
            print(f"error: {args.out}: out of date; run python scripts/{script}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(render(current))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
