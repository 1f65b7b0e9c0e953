"""gan-repro-plot's work: a finished run folder's figures, sample sheet, summary.json and report.md drawn
again from its files (a theory-lab run: its one figure and report.md), or several runs aggregated
(aggregate.py).

A redraw keeps the run's own plot settings (config.yaml's plot.figures, window, formats) unless others are
given; --window changes only the figures' smoothing: the claims in summary.json keep the run's own window.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from gan_repro.aggregate import aggregate_folders, is_run_folder
from gan_repro.errors import ConfigError
from gan_repro.plot import draw_figures, draw_samples_figure
from gan_repro.report import FIGURES, refresh_summary, saved_config, saved_plot_settings
from gan_repro.runstate import check_run_format
from gan_repro.writeup import write_report


def saved_lab_name(run_dir: Path) -> str | None:
    """lab.name from a run's config.yaml when the run is a theory-lab experiment, else None."""
    lab = saved_config(run_dir).get("lab")
    return lab.get("name") if isinstance(lab, dict) else None


def redraw_run(
    run_dir: Path,
    *,
    figures: Sequence[str] | None = None,
    window: int | None = None,
    formats: Sequence[str] | None = None,
) -> list[Path]:
    """One run folder's figures, sample sheet, summary.json and report.md again, from its CSVs (the run's own
    settings where none are given); each claim whose value changed goes to stderr. Returns the paths. A
    RunStateError for a folder of another gan-repro format."""
    check_run_format(run_dir)
    saved = saved_plot_settings(run_dir)
    formats = formats or saved.get("formats", ("png", "pdf"))
    lab = saved_lab_name(run_dir)
    if lab is not None:  # a theory-lab run: its one figure, from its own CSVs
        from gan_repro.lab.figures import draw_lab_figure

        return [*draw_lab_figure(lab, run_dir, formats=formats), write_report(run_dir)]
    _, changed = refresh_summary(run_dir)
    for line in changed:
        print(f"summary.json: {line}", file=sys.stderr)
    paths = draw_figures(
        run_dir,
        figures=figures or saved.get("figures", FIGURES[:3]),
        window=window or saved.get("window", 10),
        formats=formats,
    )
    return [*paths, *draw_samples_figure(run_dir, formats=formats), write_report(run_dir)]


def plot_folders(
    paths: Sequence[Path],
    *,
    figures: Sequence[str] | None = None,
    window: int | None = None,
    formats: Sequence[str] | None = None,
    output: Path | None = None,
    band: str = "minmax",
) -> list[Path]:
    """One finished run (or theory-lab run) folder redrawn, else the runs under the folders aggregated;
    returns the paths written. A ConfigError for a run folder with no probe.csv, or an empty folder."""
    if len(paths) == 1:
        single = paths[0]
        if (single / "probe.csv").is_file() or saved_lab_name(single):
            return redraw_run(single, figures=figures, window=window, formats=formats)
        if is_run_folder(single) or not any(single.iterdir()):
            raise ConfigError("DIR", f"no probe.csv in {single}; give a finished gan-repro run folder")
    return aggregate_folders(paths, output=output, window=window, band=band, formats=formats, figures=figures)
