"""Fault tests: runs killed (SIGKILL) or stopped (SIGTERM) mid-stage, then resumed, end exactly like one
uninterrupted run (same rows, same numbers on the CPU with a fixed seed)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import TINY, run_cli, start_cli

# 6 epochs of 28 iterations, last.pt every 10 iterations, two probes of 60 iterations logged every one.
RESUMABLE = [
    o
    for o in TINY
    if not o.startswith(("train.epochs", "train.snapshot_epochs", "probe.iterations", "probe.log_every"))
] + [
    "train.epochs=6",
    "train.snapshot_epochs=[1,6]",
    "train.checkpoint_every=10",
    "probe.iterations=60",
    "probe.log_every=1",
    "plot.formats=[png]",
    "plot.figures=[fig2]",
]
CSVS = ("train.csv", "probe.csv", "snapshots.csv")


def arguments(run_dir: Path) -> list[str]:
    """The gan-repro arguments of this run."""
    return [*RESUMABLE, f"hydra.run.dir={run_dir}"]


def finish(run_dir: Path) -> subprocess.CompletedProcess:
    """Run (or resume) the command to the end."""
    return run_cli(*arguments(run_dir), cwd=run_dir.parent, timeout=600)


def rows(path: Path) -> int:
    """Data rows written so far (0 before the file exists)."""
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


def start_and_wait(run_dir: Path, csv_name: str, count: int) -> subprocess.Popen:
    """Start the run and return once csv_name has `count` rows (the process still running)."""
    process = start_cli(*arguments(run_dir), cwd=run_dir.parent)
    deadline = time.monotonic() + 300
    while rows(run_dir / csv_name) < count:
        assert process.poll() is None, (
            f"the run ended before {csv_name} had {count} rows: {process.stderr.read()}"
        )
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return process


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run of the same command."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


def assert_same_as(reference: Path, run_dir: Path) -> None:
    for name in CSVS:
        assert (run_dir / name).read_text() == (reference / name).read_text(), name
    assert json.loads((run_dir / "state.json").read_text())["status"] == "done"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "done"


def test_sigkill_in_training_then_resume(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = start_and_wait(run_dir, "train.csv", 45)  # mid-epoch 2 of 6
    process.kill()
    process.wait()
    assert rows(run_dir / "train.csv") < 6 * 28 and not (run_dir / "probe.csv").exists()
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    assert "train: resuming at epoch" in (run_dir / "log.txt").read_text()
    assert_same_as(reference, run_dir)


def test_sigkill_in_probe_then_resume(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = start_and_wait(run_dir, "probe.csv", 80)  # in the second of two probes
    process.kill()
    process.wait()
    assert 60 <= rows(run_dir / "probe.csv") < 120
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    log_text = (run_dir / "log.txt").read_text()
    assert "train: done in an earlier run" in log_text and "1 of 2 probes done" in log_text
    assert_same_as(reference, run_dir)


def test_sigterm_saves_state_and_exits_75(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = start_and_wait(run_dir, "train.csv", 45)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 75, stderr
    assert "interrupted at train iteration" in stderr and f"hydra.run.dir={run_dir}" in stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert json.loads((run_dir / "state.json").read_text())["status"] == "interrupted"
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    assert_same_as(reference, run_dir)


def test_finished_run_reruns_as_a_redraw(reference: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    before = {name: (run_dir / name).read_text() for name in CSVS}
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    assert {name: (run_dir / name).read_text() for name in CSVS} == before


def test_resume_refuses_other_settings_and_resume_false(reference: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    for extra, message in (("seed=1", "seed differ"), ("resume=false", "already holds a run")):
        result = run_cli(*arguments(run_dir), extra, cwd=tmp_path, timeout=300)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
