"""Fault tests: runs killed (SIGKILL) or stopped (SIGTERM) mid-stage, then resumed, end exactly like one
uninterrupted run (same rows, same numbers on the CPU with a fixed seed)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import TINY, run_cli, start_cli

pytestmark = pytest.mark.integration

# 6 epochs of 28 iterations, last.pt every 10 iterations; four probes (2 snapshots x the default critics,
# gan and linear) of 60 iterations, logged at every one from the fresh D (iteration 0): 61 rows each.
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


def start_paused(run_dir: Path, csv_name: str, count: int) -> tuple[subprocess.Popen, Path]:
    """Start the run and return once it has paused (tests/paused_cli.py), right after the flush that brought
    csv_name to `count` rows or more; the marker's removal lets it go on."""
    marker = run_dir.parent / "paused"
    pause = {"PAUSE_CSV": csv_name, "PAUSE_ROWS": str(count), "PAUSE_MARKER": str(marker)}
    process = start_cli(*arguments(run_dir), cwd=run_dir.parent, module="tests.paused_cli", env_extra=pause)
    wait_until(lambda: marker.exists(), process, f"{csv_name} had {count} rows")
    return process, marker


def wait_until(event: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    """Return once event() holds, the process still running (the deadline only guards against a hang)."""
    deadline = time.monotonic() + 300
    while not event():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"no {what} in 300 s"
        time.sleep(0.005)


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
    process, _ = start_paused(run_dir, "train.csv", 35)  # mid-epoch 2 of 6: the flush at iteration 40
    process.kill()
    process.wait()
    assert rows(run_dir / "train.csv") == 40 and not (run_dir / "probe.csv").exists()
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    assert "train: resuming at epoch" in (run_dir / "log.txt").read_text()
    assert_same_as(reference, run_dir)


def test_sigkill_in_probe_then_resume(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, _ = start_paused(run_dir, "probe.csv", 80)  # in the second of four probes
    process.kill()
    process.wait()
    written = rows(run_dir / "probe.csv")
    assert 61 <= written < 2 * 61
    result = finish(run_dir)
    assert result.returncode == 0, result.stderr
    log_text = (run_dir / "log.txt").read_text()
    assert "train: done in an earlier run" in log_text
    done = re.search(r"(\d) of 4 probes done", log_text)
    # the probes whose 61 rows were all written (one whose last row landed just before the kill may not
    # have been marked done yet)
    assert done and int(done.group(1)) in {written // 61, (written - 1) // 61}, log_text
    assert_same_as(reference, run_dir)


def test_sigterm_saves_state_and_exits_75(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, marker = start_paused(run_dir, "train.csv", 35)  # the flush at iteration 40
    try:
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: "SIGTERM received" in (run_dir / "log.txt").read_text(), process, "SIGTERM's log")
        marker.unlink()  # the run goes on, and stops at its next step
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # never leave a paused run behind
            process.kill()
            process.wait()
    assert process.returncode == 75, stderr
    assert "interrupted at train iteration 41 (epoch 2)" in stderr and f"hydra.run.dir={run_dir}" in stderr
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


# ------------------------------------------------------------------- kills anywhere, one run per folder
# 2 epochs of 28 iterations, last.pt every 10, four probes (2 snapshots x gan, linear) of 16 iterations
# (17 rows each, from iteration 0), every row written at once.
KILLABLE = [
    o
    for o in TINY
    if not o.startswith(("train.epochs", "train.snapshot_epochs", "probe.iterations", "probe.log_every"))
] + [
    "train.epochs=2",
    "train.snapshot_epochs=[1,2]",
    "train.checkpoint_every=10",
    "probe.iterations=16",
    "probe.log_every=1",
    "performance.log_buffer=1",
    "plot.formats=[png]",
    "plot.figures=[fig2]",
]


def killable(run_dir: Path) -> list[str]:
    return [*KILLABLE, f"hydra.run.dir={run_dir}"]


@pytest.fixture(scope="module")
def killable_reference(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("killable") / "run"
    result = run_cli(*killable(run_dir), cwd=run_dir.parent, timeout=600)
    assert result.returncode == 0, result.stderr
    return run_dir


def test_sigkill_at_random_points_resumes_byte_identical(killable_reference: Path, tmp_path: Path) -> None:
    import random

    rng = random.Random(12)
    run_dir = tmp_path / "run"
    kill_points = [  # (file, rows it must hold) or a delay in seconds; each kill resumes the last one's state
        ("train.csv", rng.randint(1, 9)),  # before the first last.pt
        rng.uniform(0.2, 2.5),  # anywhere, start-up included
        ("train.csv", rng.randint(20, 50)),
        ("probe.csv", rng.randint(1, 15)),  # inside the first probe, before any probe is marked done
        ("probe.csv", rng.randint(17, 31)),
    ]
    for point in kill_points:
        process = start_cli(*killable(run_dir), cwd=tmp_path)
        if isinstance(point, float):
            time.sleep(point)
        else:
            deadline = time.monotonic() + 300
            while rows(run_dir / point[0]) < point[1] and process.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.002)
        process.kill()
        process.communicate()
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run_dir / "checkpoints" / ".last.pt.x1y2.tmp").write_bytes(b"torn")  # as a kill in atomic_write leaves
    result = run_cli(*killable(run_dir), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in CSVS:
        data = (run_dir / name).read_bytes()
        assert b"\r" not in data, name  # one line ending everywhere (LF)
        assert data == (killable_reference / name).read_bytes(), name
    assert not list(run_dir.rglob("*.tmp"))
    assert json.loads((run_dir / "state.json").read_text())["status"] == "done"


def test_a_second_run_into_a_busy_folder_is_refused(killable_reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    busy = [*killable(run_dir), "probe.iterations=10000000"]  # still running however slow the second start is
    first = start_and_wait_for(busy, run_dir / "train.csv", 3, cwd=tmp_path)
    try:
        second = run_cli(*busy, cwd=tmp_path, timeout=300)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "in use by another gan-repro run" in lines[0], second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=300) == 75
    finally:
        if first.poll() is None:  # never leave the long first run behind
            first.kill()
            first.wait()
    written = (run_dir / "train.csv").read_text().splitlines()[1:]
    iterations = [line.split(",")[1] for line in written]
    assert len(iterations) == len(set(iterations)) > 0  # each row once
    reference = (killable_reference / "train.csv").read_text().splitlines()[1:]
    assert written == reference[: len(written)]


def start_and_wait_for(arguments: list[str], path: Path, count: int, *, cwd: Path) -> subprocess.Popen:
    process = start_cli(*arguments, cwd=cwd)
    deadline = time.monotonic() + 300
    while rows(path) < count:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.005)
    return process
