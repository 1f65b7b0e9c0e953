"""Snapshots by G steps: a mid-epoch snapshot goes through every stage and is named by its G steps, with its
epoch beside it; taking a snapshot leaves training (and later checkpoints) as it was; file names sort by
G steps; runs written before this naming are refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from gan_repro.pipeline import run
from gan_repro.plot import draw_figure1
from gan_repro.report import snapshot_files, snapshot_rows, snapshot_words
from gan_repro.steps import derived_seed
from tests.helpers import TINY, compose_config

pytestmark = pytest.mark.integration

# TINY: 1541 training images (256 held out), 24 G steps an epoch; snapshots after 10 G steps and epoch 1
MID_EPOCH = [*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "train.snapshot_iterations=[10]"]


def test_a_mid_epoch_snapshot_is_probed_reported_and_drawn(tmp_path: Path) -> None:
    summary = run(compose_config([*MID_EPOCH, "probe.iterations=6"]), tmp_path)
    probe = pd.read_csv(tmp_path / "probe.csv")
    assert sorted(set(probe["snapshot_iteration"])) == [10, 24]
    assert set(probe.loc[probe["snapshot_iteration"] == 10, "snapshot_epoch"]) == {10 / 24}
    assert list(summary["snapshots"]) == ["10", "24"] and summary["snapshots"]["10"]["train_epoch"] == 10 / 24
    assert [p.name for p in snapshot_files(tmp_path / "checkpoints", ".pt")] == [
        "iteration_000010.pt",
        "iteration_000024.pt",
    ]
    report = (tmp_path / "report.md").read_text()
    assert "| 10 | 0.417 |" in report and "| 24 | 1 |" in report  # G steps, then epochs
    figure = draw_figure1(snapshot_rows(probe[probe["critic"] == "gan"]), 3)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["G after 10 G steps (0.42 epochs)", "G after epoch 1 (24 G steps)"]


def test_snapshot_words() -> None:
    assert snapshot_words(900, 10.0) == "epoch 10 (900 G steps)"
    assert snapshot_words(1000, 1000 / 90) == "1000 G steps (11.11 epochs)"
    assert snapshot_words(0, 0.0) == "control: real images as fakes"


def test_taking_a_snapshot_changes_neither_training_nor_later_checkpoints(tmp_path: Path) -> None:
    """Snapshots' forwards run G in train mode; its BatchNorm running statistics are restored after them, so
    the last checkpoint is the same with or without extra snapshots before it."""
    cfg_plain = [*TINY, "train.epochs=2", "train.snapshot_epochs=[2]", "train.snapshot_iterations=[]"]
    cfg_extra = [*TINY, "train.epochs=2", "train.snapshot_epochs=[2]", "train.snapshot_iterations=[5,10,11]"]
    for name, overrides in (("plain", cfg_plain), ("extra", cfg_extra)):
        run_training(tmp_path / name, overrides)
    assert (tmp_path / "plain" / "train.csv").read_bytes() == (tmp_path / "extra" / "train.csv").read_bytes()
    plain, extra = (
        torch.load(tmp_path / name / "checkpoints" / "iteration_000056.pt", weights_only=True)
        for name in ("plain", "extra")
    )
    for key, value in plain["generator"].items():  # weights and BatchNorm buffers alike
        assert torch.equal(value, extra["generator"][key]), key


def run_training(run_dir: Path, overrides: list[str]) -> None:
    """The training stage alone, on all 1797 digits (28 G steps an epoch), as pipeline.run seeds it."""
    from gan_repro.pipeline import train_stage
    from gan_repro.prepare import build_dataset

    cfg = compose_config(overrides)
    run_dir.mkdir()
    torch.manual_seed(cfg.seed)
    train_stage(cfg, dataset=build_dataset(cfg.dataset), run_dir=run_dir, device=torch.device("cpu"))


def test_snapshot_files_sort_by_g_steps_past_a_million(tmp_path: Path) -> None:
    for steps in (47_000, 1_175_000, 470_000):
        (tmp_path / f"iteration_{steps:06d}.pt").write_bytes(b"")
    assert [p.name for p in snapshot_files(tmp_path, ".pt")] == [
        "iteration_047000.pt",
        "iteration_470000.pt",
        "iteration_1175000.pt",
    ]


def test_derived_seeds_do_not_collide_like_sums() -> None:
    keys = [(seed, steps, stream) for seed in range(3) for steps in (89, 90, 91) for stream in range(10)]
    seeds = {derived_seed(*key) for key in keys}
    assert len(seeds) == 3 * 3 * 10 and all(0 <= seed < 2**63 for seed in seeds)


def test_sample_grids_are_labelled_and_gathered(tiny_run) -> None:
    run_dir = tiny_run[1]
    with Image.open(run_dir / "samples" / "iteration_000024.png") as grid:
        assert grid.height == 2 * (16 + 2) + 2 + 14  # 16 samples of 16x16 in 2 rows, and the label band
        assert np.asarray(grid.convert("L"))[:14].min() < 128  # text in the band
    assert (run_dir / "figures" / "samples.png").is_file()
