"""report.md: written by every run and every redraw, from the run folder alone; whole for a tiny run, a lab
run and a folder with pieces missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from gan_repro.cli import plot_main
from gan_repro.columns import headings
from gan_repro.report import format_value
from gan_repro.writeup import write_report
from tests.helpers import compose_config, run_cli

pytestmark = pytest.mark.integration


def test_tiny_run_report_holds_the_claims_figures_command_and_times(tiny_run) -> None:
    _, run_dir, summary = tiny_run
    text = (run_dir / "report.md").read_text()
    for claim in summary["claims"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {claim['claim']} |"))
        assert format_value(claim["measured"]) in row and claim["threshold"] in row
        assert row.endswith(f"| {({True: 'yes', False: 'no'}).get(claim['holds'], 'not measured')} |")
    for figure in sorted((run_dir / "figures").glob("fig*.png")):
        assert f"![{figure.stem}](figures/{figure.name})" in text
    assert "![iteration_000024](samples/iteration_000024.png)" in text  # 24 G steps an epoch
    assert "![iteration_000048](samples/iteration_000048.png)" in text
    assert "![fig1](figures/fig1.png)" in text and "noise_bound" not in text  # only what exists
    assert "```\ngan-repro\n```" in text and "overrides were not recorded" in text  # run() outside Hydra
    assert f"seed {summary['seed']}" in text and f"torch {summary['torch']}" in text
    assert "## Stage times" in text and "train " in text and "probe " in text and "plot " in text
    assert "## The probed generators" in text and "[samples](samples/iteration_000048.png)" in text
    assert "Linear-shortcut control:" in text and "One seed is one sample" in text


def copied_run(tiny_run, destination: Path) -> Path:
    """A private copy of the tiny run's folder, to change without touching the shared one."""
    return Path(shutil.copytree(tiny_run[1], destination))


def test_command_comes_from_hydras_overrides_shell_quoted(tiny_run, tmp_path: Path) -> None:
    run_dir = copied_run(tiny_run, tmp_path / "run")
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text(
        "- train.epochs=2\n- train.snapshot_epochs=[1,2]\n- dataset.root=/data/my digits\n"
    )
    text = write_report(run_dir).read_text()
    assert "gan-repro train.epochs=2 'train.snapshot_epochs=[1,2]' 'dataset.root=/data/my digits'" in text
    assert "not recorded" not in text


def test_a_redraw_rewrites_the_report(tiny_run, tmp_path: Path) -> None:
    run_dir = copied_run(tiny_run, tmp_path / "run")
    (run_dir / "report.md").write_text("stale\n")
    for path in (run_dir / "figures").glob("fig3.*"):
        path.unlink()
    assert plot_main([str(run_dir), "--figures", "fig1", "fig2", "--formats", "png"]) == 0
    text = (run_dir / "report.md").read_text()
    assert "stale" not in text and "## The paper's claims" in text
    assert "![fig2](figures/fig2.png)" in text and "fig3" not in text  # the figure the redraw left out


def test_missing_pieces_and_a_noise_table(tmp_path: Path) -> None:
    """No summary.json, no figures: a report that says so. A noise.csv: its table, a column per heading."""
    text = write_report(tmp_path).read_text()
    assert "No summary.json yet" in text and "## Figures" not in text and "gan-repro" in text
    row = {
        "snapshot_iteration": 24,
        "snapshot_epoch": 1.0,
        "noise_std": 0.1,
        "d_loss_end": 0.002,
        "d_accuracy_end": 1.0,
        "grad_norm_minimax_end": 3e-6,
        "jsd_estimate": 0.69,
        "bound": 106.6,
        "bound_over_diameter": 1.666,
    }
    row |= {
        "sliced_wasserstein": 1.5,
        "wasserstein_exact": 22.5,
        "exact_w1_real_real": 9.0,
        "bound_holds": True,
    }
    pd.DataFrame([row]).to_csv(tmp_path / "noise.csv", index=False)
    lines = write_report(tmp_path).read_text().splitlines()
    header = next(line for line in lines if line.startswith("| snapshot (G steps) | epoch |"))
    assert header == "| " + " | ".join(headings("noise.csv").values()) + " |"
    assert "| 24 | 1 | 0.1 | 0.002 | 3e-06 | 0.69 | 107 | 1.67 | 1.5 | 22.5 | 9 | yes |" in lines


def test_lab_run_report_has_its_claims_and_figure(tmp_path: Path) -> None:
    from gan_repro.pipeline import run

    overrides = [
        "experiment=lab_noise_bound",
        "lab.shifts=[0.1]",
        "lab.noise_stds=[0.01]",
        "plot.formats=[png]",
    ]
    summary = run(compose_config([*overrides, "device=cpu", "quiet=true"]), tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# gan-repro theory lab: noise_bound")
    assert f"| {summary['claims'][0]['claim']} |" in text and "| yes |" in text
    assert "![noise_bound](figures/noise_bound.png)" in text and "lab_s" not in text and "lab 0." in text
    saved = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "report.md").unlink()
    assert plot_main([str(tmp_path), "--formats", "png"]) == 0  # a lab redraw writes it again
    assert f"| {saved['claims'][0]['claim']} |" in (tmp_path / "report.md").read_text()


def test_the_command_line_records_the_command(tmp_path: Path) -> None:
    """Through gan-repro itself: Hydra's .hydra/overrides.yaml gives report.md the command, quoted."""
    run_dir = tmp_path / "run"
    overrides = ["experiment=lab_noise_bound", "lab.shifts=[0.1]", "lab.noise_stds=[0.01]", "device=cpu"]
    result = run_cli(*overrides, "quiet=true", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (run_dir / "report.md").read_text()
    assert (
        "gan-repro experiment=lab_noise_bound 'lab.shifts=[0.1]' 'lab.noise_stds=[0.01]' device=cpu" in text
    )
