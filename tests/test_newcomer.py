"""What a newcomer meets first: file modes, honest curve ends, readable claims, quoted commands, no debris,
a real --help, small datasets, sweep labels, sample labels and links to cached checkpoints."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gan_repro.aggregate import group_label
from gan_repro.cli import bench_main, plot_main, resume_command
from gan_repro.config import config_dir
from gan_repro.files import atomic_write, write_json
from gan_repro.pipeline import run
from gan_repro.report import format_claim
from tests.helpers import TINY, compose_config, run_cli, write_images


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        written = [
            atomic_write(tmp_path / "a.bin", lambda handle: handle.write(b"x")),
            write_json(tmp_path / "b.json", {"a": 1}),
        ]
    finally:
        os.umask(previous)
    assert [path.stat().st_mode & 0o777 for path in written] == [mode, mode]


def test_a_run_writes_every_file_with_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o002)
    try:
        run(
            compose_config([*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=3"]),
            tmp_path,
        )
    finally:
        os.umask(previous)
    modes = {
        str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_file()
    }
    assert {
        "figures/fig1.png",
        "samples/iteration_000024.png",
        "checkpoints/iteration_000024.pt",
        "summary.json",
    } <= set(modes)
    assert set(modes.values()) == {0o664}, modes


def test_claims_read_as_one_line_with_unit_and_threshold() -> None:
    claim = {
        "claim": "D's cost falls by orders of magnitude (Fig. 1)",
        "measured": [4.673181880693313, 2.5],
        "unit": "orders of magnitude",
        "threshold": ">= 2 orders, every snapshot",
        "holds": True,
    }
    assert format_claim(claim) == (
        "HOLDS  D's cost falls by orders of magnitude (Fig. 1): 4.67, 2.5 orders of "
        "magnitude (threshold: >= 2 orders, every snapshot)"
    )


def test_resume_command_quotes_lists() -> None:
    command = resume_command(Path("/runs/a b"), ["train.snapshot_epochs=[1,5]", "seed=3", "hydra.run.dir=/x"])
    assert command == "gan-repro 'train.snapshot_epochs=[1,5]' seed=3 'hydra.run.dir=/runs/a b'"


def test_redraw_with_another_window_keeps_the_claims_and_removes_stale_files(
    tiny_run, tmp_path, capsys
) -> None:
    shutil.copytree(tiny_run[1], tmp_path, dirs_exist_ok=True)
    before = json.loads((tmp_path / "summary.json").read_text())["claims"]
    assert (tmp_path / "figures" / "fig1.pdf").is_file()
    assert plot_main([str(tmp_path), "--window", "20", "--formats", "png"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["claims"] == before  # the run's own window
    assert not (tmp_path / "figures" / "fig1.pdf").exists()  # drawn with another window: gone
    assert "summary.json:" not in capsys.readouterr().err  # nothing changed, nothing said
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["claims"][0]["measured"] = [999]  # as if an older version had computed another value
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert plot_main([str(tmp_path), "--formats", "png"]) == 0
    assert "summary.json: D separates held-out real images" in capsys.readouterr().err  # a change is said


def test_help_describes_the_tool() -> None:
    result = run_cli("--help", cwd=Path.cwd(), timeout=120)
    assert result.returncode == 0, result.stderr
    for text in (
        "Figures 1-3",
        "dataset: celeba, cifar10, digits",
        "experiment: control, critics, fig1",
        "critic: gan, gan_r1, hinge, linear, lsgan, wgan, wgan_gp",
        "gan-repro-plot RUN_DIR",
        "gan-repro-check RUN_DIR|SWEEP_DIR",
        "gan-repro-bench",
        "gan-repro-prepare",
        "Exit codes",
    ):
        assert text in result.stdout, text
    named = set(re.findall(r"\w+", result.stdout.split("Launchers for sweeps", 1)[1].split("Exit codes")[0]))
    ours = {path.stem for path in (config_dir() / "hydra" / "launcher").glob("*.yaml")}
    assert {"basic", "joblib", "submitit_local", "submitit_slurm"} | ours <= named  # Hydra's and ours


def test_bench_help_shows_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        bench_main(["--help"])
    assert "(default: 100)" in capsys.readouterr().out


def test_small_image_folder_records_how_many_images_the_distances_used(tmp_path: Path, caplog) -> None:
    write_images(tmp_path / "images", [(20, 20)] * 90)  # 22 held out, 68 to train on
    summary_dir = tmp_path / "run"
    run(
        compose_config(
            [
                *TINY,
                "dataset=image_folder",
                f"dataset.root={tmp_path / 'images'}",
                "train.epochs=1",
                "train.snapshot_epochs=[1]",
                "probe.iterations=3",
            ]
        ),
        summary_dir,
    )
    snapshots = pd.read_csv(summary_dir / "snapshots.csv")
    assert snapshots["distance_samples"].tolist() == [68] and snapshots["exact_samples"].tolist() == [64]
    assert snapshots["exact_samples_real_real"].tolist() == [34]  # two disjoint halves of the 68 images
    assert "distances from 68 images of each kind" in caplog.text


def test_sweep_labels_say_how_g_was_trained() -> None:
    row = pd.Series({"loss.name": "minimax", "noise.kind": "linear", "probe.iterations": 9})
    assert group_label(row, ["loss.name", "noise.kind"]) == "trained with loss=minimax, noise=linear"
    assert (
        group_label(row, ["loss.name", "probe.iterations"]) == "trained with loss=minimax; probed with "
        "probe.iterations=9"
    )
    assert group_label(row, []) == "all runs"


def test_sample_grids_are_labelled_and_gathered(tiny_run) -> None:
    run_dir = tiny_run[1]
    with Image.open(run_dir / "samples" / "iteration_000024.png") as grid:
        assert grid.height == 2 * (16 + 2) + 2 + 14  # 16 samples of 16x16 in 2 rows, and the label band
        assert np.asarray(grid.convert("L"))[:14].min() < 128  # text in the band
    assert (run_dir / "figures" / "samples.png").is_file()


def test_cached_checkpoints_are_linked_not_copied(tmp_path: Path) -> None:
    cached = [
        *TINY,
        "cache=true",
        f"cache_dir={tmp_path / 'cache'}",
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
        "probe.iterations=3",
    ]
    run(compose_config(cached), tmp_path / "first")
    run(compose_config(cached), tmp_path / "second")
    first, second = (tmp_path / name / "checkpoints" / "iteration_000024.pt" for name in ("first", "second"))
    assert (
        first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 3
    )  # two runs and the cache
    csvs = [tmp_path / name / "train.csv" for name in ("first", "second")]
    assert csvs[0].stat().st_ino != csvs[1].stat().st_ino and csvs[0].read_bytes() == csvs[1].read_bytes()


def test_a_refusal_removes_only_a_folder_it_created(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / ".hydra").mkdir(parents=True)
    (mine / "log.txt").write_text("my own log\n")
    result = run_cli(f"hydra.run.dir={mine}", "quiet=true", "dataset=mnist", cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: dataset.root:"), result.stderr
    assert (mine / "log.txt").read_text().startswith("my own log") and (mine / ".hydra").is_dir()
    lab = tmp_path / "lab"  # a lab setting is checked after the folder's lock is taken: still no debris
    result = run_cli(
        f"hydra.run.dir={lab}",
        "quiet=true",
        "experiment=lab_manifold",
        "lab.iterations=0",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: lab.iterations:"), result.stderr
    assert not lab.exists()
