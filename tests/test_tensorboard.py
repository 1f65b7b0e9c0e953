"""logger=tensorboard: every row of train.csv, snapshots.csv and probe.csv also as TensorBoard scalars (step =
the row's iteration), whether the stage ran or came from the cache; the CSVs are the same bytes as without
it; a missing tensorboard package is one line before any work."""

from __future__ import annotations

import filecmp
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_repro.errors import ConfigError
from gan_repro.pipeline import run
from tests.helpers import TINY, compose_config
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration

CSVS = ("train.csv", "snapshots.csv", "probe.csv")


def scalars(folder: Path, tag: str) -> tuple[list[int], np.ndarray]:
    """The steps and values of one tag in an event folder, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0}).Reload()  # 0: keep every point
    points = events.Scalars(tag)
    return [point.step for point in points], np.array([point.value for point in points])


def assert_mirrors_the_csvs(run_dir: Path) -> None:
    """train, snapshots and the paper's D's probe rows, read back from the event files, equal the CSVs'
    values (stored as float32 by TensorBoard); a blank cell has no point."""
    board = run_dir / "tensorboard"
    train = pd.read_csv(run_dir / "train.csv")
    for column in ("d_loss", "g_loss", "d_accuracy"):
        steps, values = scalars(board, f"train/{column}")
        assert steps == train["iteration"].tolist()
        np.testing.assert_array_equal(values, train[column].to_numpy(np.float32))
    snapshots = pd.read_csv(run_dir / "snapshots.csv")
    steps, values = scalars(board, "snapshots/sliced_wasserstein")
    assert steps == snapshots["iteration"].tolist() == [24, 48]
    np.testing.assert_array_equal(values, snapshots["sliced_wasserstein"].to_numpy(np.float32))
    probe = pd.read_csv(run_dir / "probe.csv")
    for (critic, snapshot), rows in probe.groupby(["critic", "snapshot_iteration"]):
        curve = board / "probe" / f"critic={critic}" / f"snapshot_iteration={snapshot}"
        steps, values = scalars(curve, "probe/d_loss")
        assert steps == rows["iteration"].tolist() == [0, 3, 6, 9, 12]
        np.testing.assert_array_equal(values, rows["d_loss"].to_numpy(np.float32))
    linear = board / "probe" / "critic=linear" / "snapshot_iteration=24"
    with pytest.raises(KeyError):  # the linear control measures no gradient of G: blank cells, no points
        scalars(linear, "probe/grad_norm_minimax")


def test_tensorboard_mirrors_the_rows_and_leaves_the_csvs_alone(tiny_run, tmp_path: Path) -> None:
    _, csv_only, _ = tiny_run  # the same settings, logger=csv, cache=false
    overrides = [*TINY, "logger=tensorboard", "cache=true", f"cache_dir={tmp_path / 'cache'}"]
    run(compose_config(overrides), tmp_path / "live")  # computed: rows mirrored as they are written
    run(compose_config(overrides), tmp_path / "cached")  # copied from the cache: its CSVs mirrored at once
    assert json.loads((tmp_path / "live" / "state.json").read_text())["train_cache_entry"] is None
    assert json.loads((tmp_path / "cached" / "state.json").read_text())["train_cache_entry"] is not None
    for run_dir in (tmp_path / "live", tmp_path / "cached"):
        assert_mirrors_the_csvs(run_dir)
        for name in CSVS:
            assert filecmp.cmp(run_dir / name, csv_only / name, shallow=False), name
    assert not (csv_only / "tensorboard").exists()


def test_missing_tensorboard_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now fails, as when absent
    refusal = (
        "logger: tensorboard is not installed: "
        "pip install tensorboard (the [tensorboard] extra), or logger=csv"
    )
    with pytest.raises(ConfigError) as refused:
        run(compose_config([*TINY, "logger=tensorboard"]), tmp_path / "api")
    assert str(refused.value) == refusal and not (tmp_path / "api").exists()
    code, output = call_main([*TINY, "logger=tensorboard", f"hydra.run.dir={tmp_path / 'cli'}"])
    assert code == 2 and output.splitlines()[0].startswith(f"error: {refusal}"), output
    assert not (tmp_path / "cli").exists()
