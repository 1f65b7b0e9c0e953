"""Stopping a whole sweep: SIGTERM to the sweep's process stops every job of every launcher (the basic one,
joblib's workers, submitit's jobs), each job saves its state, the sweep prints one command that resumes it
all, and that command ends every job as an uninterrupted run would. Also submitit's preemption signal (what
SLURM sends): the requeued job resumes from its saved state."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from gan_repro import runstate
from gan_repro.runstate import HOLDER_NAME, STOP_FILE, StopFlag
from tests.helpers import TINY, run_cli, start_cli

pytestmark = pytest.mark.integration

# 10 epochs of 24 iterations (time to signal mid-training), every row written at once, last.pt every 10.
STOPPABLE = [
    o for o in TINY if not o.startswith(("train.epochs", "train.snapshot_epochs", "plot.window"))
] + [
    "train.epochs=10",
    "train.snapshot_epochs=[1,10]",
    "train.checkpoint_every=10",
    "performance.log_buffer=1",
    "plot.formats=[png]",
    "plot.figures=[fig2]",
]
# Two jobs that compute the same numbers (plot.window changes only figures): each is the other's reference.
JOBS = "plot.window=3,4"
CSVS = ("train.csv", "probe.csv", "snapshots.csv")
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # per job process: two jobs on CI's 2 cores do not oversubscribe them


def sweep_arguments(sweep: Path, *launcher: str) -> list[str]:
    return ["-m", *STOPPABLE, JOBS, *launcher, f"hydra.sweep.dir={sweep}"]


def rows(path: Path) -> int:
    """Data rows written so far (0 before the file exists)."""
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


def wait_for_rows(process: subprocess.Popen, paths: Sequence[Path], count: int) -> None:
    """Return once every path holds `count` rows (the sweep still running)."""
    deadline = time.monotonic() + 300
    while any(rows(path) < count for path in paths):
        assert process.poll() is None, f"the sweep ended first: {process.communicate()[1]}"
        assert time.monotonic() < deadline
        time.sleep(0.01)


def status(job: Path) -> str | None:
    """The job's state.json status (None when it never started)."""
    path = job / "state.json"
    return json.loads(path.read_text())["status"] if path.is_file() else None


def resume_line(stderr: str) -> list[str]:
    """The one resume command the stopped sweep printed, as arguments after `gan-repro`."""
    lines = [line for line in stderr.splitlines() if "resume" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("sweep: stopped; resume it all: gan-repro "), stderr
    return shlex.split(lines[0].split("resume it all: ", 1)[1])[1:]


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below pid (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def assert_all_gone(pids: set[int]) -> None:
    """Every one of these processes ends within a few seconds."""
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in pids if alive(pid)}
    assert not left, f"processes left running after the sweep ended: {left}"


def stop_sweep(process: subprocess.Popen) -> list[str]:
    """SIGTERM the sweep's process: it must end with 75, leave no process it started, and print one resume
    command, whose arguments this returns."""
    below = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=300) == 75  # before reading stderr: a worker left running would hold it open
    assert_all_gone(below)  # no worker trains on, none idles on
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    return resume_line(stderr)


def resume(arguments: list[str], sweep: Path) -> None:
    """Run the printed resume command: every job ends done, the stop request is gone."""
    result = run_cli(*arguments, cwd=sweep.parent, env_extra=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert [status(sweep / job) for job in ("0", "1")] == ["done", "done"]
    assert not (sweep / STOP_FILE).exists()


def assert_complete(job: Path, reference: Path) -> None:
    """The job's CSVs are byte-identical to the reference's; its training rows are complete and unique."""
    for name in CSVS:
        assert (job / name).read_bytes() == (reference / name).read_bytes(), name
    iterations = [line.split(",")[1] for line in (job / "train.csv").read_text().splitlines()[1:]]
    assert iterations == [str(i) for i in range(1, 241)]


# ----------------------------------------------------------------------------- the stop flag itself
def test_a_stop_file_reaches_a_flag_in_another_process_cheaply(tmp_path: Path, monkeypatch) -> None:
    """However often the loops ask (every step), a job's flag looks at the sweep's stop file at most once per
    every_s of its clock, and sees the file at its first look after the sweep wrote it. The clock is a fake
    one that moves only when the test moves it: nothing here depends on how fast the machine is."""
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(runstate, "time", SimpleNamespace(monotonic=lambda: clock.now))
    looks: list[bool] = []
    look = StopFlag.look
    monkeypatch.setattr(StopFlag, "look", lambda flag: looks.append(True) or look(flag))
    stop_file = tmp_path / STOP_FILE
    sweep_flag, job_flag = StopFlag(stop_file, announce=True), StopFlag(stop_file, every_s=0.05)
    for _ in range(10_000):  # what the loops ask per step: a clock read, and a stat only every every_s
        assert not job_flag.requested
    assert len(looks) == 1
    sweep_flag.request(signal.SIGTERM)  # the sweep's handler writes the file
    assert json.loads(stop_file.read_text())["signal"] == "SIGTERM"
    clock.now += 0.049
    assert not job_flag.requested and len(looks) == 1  # not yet every_s since the last look: no stat
    clock.now += 0.001
    assert job_flag.requested and len(looks) == 2  # the first look after every_s sees it
    sweep_flag.clear()
    assert not stop_file.exists() and not StopFlag(stop_file).look()


# ----------------------------------------------------------------------------- SIGTERM to the sweep
def test_sigterm_stops_a_basic_launcher_sweep_and_one_command_resumes_it(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    process = start_cli(*sweep_arguments(sweep), cwd=tmp_path, env_extra=ONE_THREAD)
    wait_for_rows(process, [sweep / "0" / "train.csv"], 5)
    arguments = stop_sweep(process)
    assert status(sweep / "0") == "interrupted"
    assert rows(sweep / "0" / "train.csv") < 240
    assert status(sweep / "1") is None  # never begun: the resume starts it
    resume(arguments, sweep)
    assert_complete(sweep / "0", sweep / "1")  # job 1 ran uninterrupted


def test_sigterm_stops_joblib_workers_and_one_command_resumes_the_sweep(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    launcher = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    process = start_cli(*sweep_arguments(sweep, *launcher), cwd=tmp_path, env_extra=ONE_THREAD)
    wait_for_rows(process, [sweep / job / "train.csv" for job in ("0", "1")], 5)
    workers = {int((sweep / job / HOLDER_NAME).read_text()) for job in ("0", "1")}  # each job's process
    assert process.pid not in workers and workers <= descendants(process.pid)
    arguments = stop_sweep(process)
    assert [status(sweep / job) for job in ("0", "1")] == ["interrupted", "interrupted"]
    resume(arguments, sweep)
    assert_complete(sweep / "0", sweep / "1")  # stopped at different steps, the same rows


def test_sigterm_stops_submitit_local_jobs_and_one_command_resumes_the_sweep(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    launcher = ("hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1")
    process = start_cli(*sweep_arguments(sweep, *launcher), cwd=tmp_path, env_extra=ONE_THREAD)
    wait_for_rows(process, [sweep / job / "train.csv" for job in ("0", "1")], 5)
    arguments = stop_sweep(process)
    assert [status(sweep / job) for job in ("0", "1")] == ["interrupted", "interrupted"]
    resume(arguments, sweep)
    assert_complete(sweep / "0", sweep / "1")


# ----------------------------------------------------------------------------- SLURM's preemption, locally
@pytest.mark.slow  # 15 s: with the three above, past the fast suite's budget for this file
def test_submitit_preemption_requeues_the_job_and_it_resumes_exactly(tmp_path: Path) -> None:
    """SIGUSR2 to a running job, as SLURM sends before a preemption or the time limit: submitit calls the
    Hydra launcher's checkpoint(), requeues the same job (the local executor restarts it) and the job resumes
    from its last.pt and state.json. timeout_min=20 makes submitit read it as a preemption, not a timeout."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    launcher = (
        "hydra/launcher=submitit_local",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=20",
    )
    process = start_cli(*sweep_arguments(sweep, *launcher), cwd=tmp_path, env_extra=ONE_THREAD)
    wait_for_rows(process, [sweep / "0" / "train.csv"], 15)  # past the last.pt of iteration 10
    job = int((sweep / "0" / HOLDER_NAME).read_text())  # submitit's process running job 0
    assert b"submitit" in Path(f"/proc/{job}/cmdline").read_bytes()
    os.kill(job, signal.SIGUSR2)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert [status(sweep / name) for name in ("0", "1")] == ["done", "done"]
    log_text = (sweep / "0" / "log.txt").read_text()
    assert "Caught signal SIGUSR2" in log_text and "train: resuming at epoch" in log_text
    assert_complete(sweep / "0", sweep / "1")  # job 1 ran uninterrupted, with the same thread count
