"""A run's progress on disk (state.json), stop requests from signals, and checks that keep a run honest.

The errors a run stops with here (Interrupted, NonFiniteError, RunFolderBusy, RunStateError) and their exit
codes are declared in errors.py.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm.auto import tqdm

import gan_repro
from gan_repro.errors import Interrupted as Interrupted  # the stages import it from here
from gan_repro.errors import NonFiniteError, RunFolderBusy, RunStateError
from gan_repro.files import atomic_write, write_json

if TYPE_CHECKING:
    from gan_repro.logger import TensorBoardMirror

log = logging.getLogger(__name__)

# The run folder's format: its files, their columns and keys. Bump it with any change a reader of the old
# folders would misread; state.json records it, and a folder of another format is refused (check_format).
FORMAT_VERSION = 1
STATE_NAME = "state.json"  # in a run folder: what it has finished, and the format it is written in
STOP_FILE = ".stop"  # in a sweep folder: the sweep was asked to stop; every job of it checks for this file


class StopFlag:
    """Set by SIGINT/SIGTERM while installed; the training and probe loops check it between steps.

    In a sweep it also watches the sweep's stop file, so a job in any process (a joblib worker, a submitit
    job) stops when the sweep does; a flag that `announces` writes that file when it gets a signal."""

    def __init__(
        self, stop_file: Path | None = None, *, announce: bool = False, every_s: float = 0.5
    ) -> None:
        self.signal_name: str | None = None
        self.stop_file = stop_file
        self.announce = announce
        self.every_s = every_s  # at most one stat of the stop file this often: the loops ask every step
        self.next_look = 0.0

    @property
    def requested(self) -> bool:
        if self.signal_name is None and self.stop_file is not None and time.monotonic() >= self.next_look:
            self.next_look = time.monotonic() + self.every_s
            self.look()
        return self.signal_name is not None

    def look(self) -> bool:
        """Check the stop file now (not throttled); whether a stop is requested."""
        if self.signal_name is None and self.stop_file is not None and self.stop_file.exists():
            self.signal_name = "the sweep's stop request"
            log.warning("%s: finishing the current step, then saving and stopping", self.signal_name)
        return self.signal_name is not None

    def request(self, signal_number: int, _frame: object = None) -> None:
        """Signal handler: remember the request (the current step finishes first); announce it to a sweep."""
        self.signal_name = signal.Signals(signal_number).name
        log.warning("%s received: finishing the current step, then saving and stopping", self.signal_name)
        if self.announce and self.stop_file is not None:
            try:  # tiny and atomic: a job that reads it never sees half a file
                write_json(self.stop_file, {"signal": self.signal_name, "pid": os.getpid()})
            except OSError as error:  # the sweep folder is gone or read-only: this process still stops
                log.warning("could not write %s (%s): jobs in other processes go on", self.stop_file, error)

    def clear(self) -> None:
        """Forget an earlier stop: remove the stop file a stopped sweep left (its resume starts afresh)."""
        if self.stop_file is not None:
            self.stop_file.unlink(missing_ok=True)

    @contextmanager
    def installed(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[StopFlag]:
        """Route these signals to request() for the duration, then restore the old handlers."""
        previous = {number: signal.signal(number, self.request) for number in signals}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def installed_flag() -> StopFlag | None:
    """The StopFlag this process's SIGTERM handler belongs to, if one is installed (a sweep's, when the
    launcher runs its jobs in the sweep's own process)."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return owner if isinstance(owner, StopFlag) else None


@dataclass
class RunControl:
    """How a stage is watched while it runs: stop requests, NaN/inf policy, progress bars."""

    stop: StopFlag = field(default_factory=StopFlag)
    on_nonfinite: str = "stop"  # stop: raise NonFiniteError; warn: log and carry on
    quiet: bool = False  # no progress bars
    mirror: TensorBoardMirror | None = None  # logger=tensorboard: the CSV loggers' rows also go there

    def progress(self, total: int, *, desc: str, initial: int = 0) -> tqdm:
        """A progress bar for a stage (hidden when quiet)."""
        return tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit="it",
            disable=self.quiet,
            dynamic_ncols=True,
            mininterval=1.0,
        )

    def check_rows(
        self, rows: list[dict[str, Any]], keys: tuple[str, ...], where: Callable[[dict], str]
    ) -> None:
        """check_finite on each row the logger just wrote, `where(row)` naming its place."""
        for row in rows:
            check_finite(row, keys, where=where(row), mode=self.on_nonfinite)


@dataclass
class RunState:
    """What a run has finished, saved atomically as state.json in its folder after every change."""

    path: Path
    status: str = "running"  # running, interrupted, failed, done
    train_complete: bool = False
    probe_units_done: list[list[Any]] = field(default_factory=list)  # [G steps, sigma or None, critic]
    probe_complete: bool = False
    train_cache_entry: str | None = None  # the cache entry the snapshots were copied from, if they were
    updates_complete: bool = False  # experiment=updates: updates.csv holds every snapshot
    format_version: int = FORMAT_VERSION  # the run folder's format (check_format)

    @classmethod
    def load(cls, path: Path) -> RunState | None:
        """The saved state, or None when there is none (a new run); a RunStateError for one that is unreadable
        or of another format."""
        if not Path(path).is_file():
            return None
        try:
            data = read_state(Path(path))
        except ValueError as error:
            raise unreadable_state(path, error) from None
        check_format(data, Path(path))
        try:
            return cls(path=Path(path), **{item.name: data[item.name] for item in fields(cls)[1:]})
        except (KeyError, TypeError) as error:
            raise unreadable_state(path, error) from None

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        write_json(self.path, data)

    def unit_done(self, key: list[Any]) -> bool:
        """Whether the probe unit [snapshot's G steps, swept sigma or None, critic] finished."""
        return list(key) in self.probe_units_done


def unreadable_state(path: Path, error: Exception) -> RunStateError:
    """The error for a state.json that a resume cannot read."""
    return RunStateError("resume", f"{path} is unreadable ({error}); use a new hydra.run.dir")


def read_state(path: Path) -> dict[str, Any]:
    """state.json as a JSON object; a ValueError saying why when it is not one."""
    data = json.loads(path.read_text())  # json's errors are ValueErrors
    if not isinstance(data, dict):
        raise ValueError(f"holds {type(data).__name__}, not a JSON object")
    return data


def check_format(data: dict[str, Any], path: Path) -> None:
    """Refuse a state.json (read as data from path) that does not record this FORMAT_VERSION: the folder's
    files may mean something else to this gan-repro, so it neither continues nor reads them."""
    found = data.get("format_version")
    if found != FORMAT_VERSION:
        raise RunStateError(
            str(path.parent),
            f"made by another gan-repro format ({'none recorded' if found is None else found}; gan-repro "
            f"{gan_repro.__version__} reads format {FORMAT_VERSION}); rerun its command in a new folder, or "
            "read it with the gan-repro that made it",
        )


def check_run_format(run_dir: Path) -> None:
    """Refuse (RunStateError) a run folder to read whose state.json is missing, unreadable or of another
    format: gan-repro-plot, gan-repro-check and api.load_run read only folders of this FORMAT_VERSION."""
    path = Path(run_dir) / STATE_NAME
    if not path.is_file():
        raise RunStateError(
            str(run_dir),
            f"has no {STATE_NAME}, so its format is unknown; give a folder a gan-repro run wrote, or rerun "
            "its command in a new folder",
        )
    try:
        data = read_state(path)
    except ValueError as error:
        raise RunStateError(
            str(path), f"is unreadable ({error}); rerun its command in a new folder"
        ) from None
    check_format(data, path)


LOCK_NAME = ".lock"  # in a run folder: held by the run working in it
HOLDER_NAME = ".lock.pid"  # in a run folder: the pid of the run holding its lock, for a refused run to name
ENVIRONMENT_NAME = "environment.json"  # in a run folder: the code and versions it last started with


def lock_is_free(run_dir: Path) -> bool:
    """Whether no process holds run_dir's lock now (probed without waiting)."""
    from filelock import FileLock, Timeout

    path = run_dir / LOCK_NAME
    if not path.exists():
        return True
    try:
        with FileLock(path, timeout=0):
            return True
    except Timeout:
        return False


def lock_holder(run_dir: Path) -> str:
    """The pid the run holding run_dir's lock wrote, or 'unknown'."""
    try:
        return (run_dir / HOLDER_NAME).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on run_dir for the block (one run per folder; a second is refused with
    RunFolderBusy), then remove the temporary files a killed run's atomic writes left (`.NAME.*.tmp`). The
    operating system releases the lock with its holder (filelock), so a killed run's folder is free again."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    lock = FileLock(run_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunFolderBusy(
            "hydra.run.dir",
            f"{run_dir} is in use by another gan-repro run (pid {lock_holder(run_dir)}); wait for it to end, "
            "or choose another hydra.run.dir",
        ) from None
    try:
        (run_dir / HOLDER_NAME).write_text(f"{os.getpid()}\n")
        for orphan in run_dir.rglob(".*.tmp"):  # no one else writes here while we hold the lock
            if orphan.is_file():
                orphan.unlink(missing_ok=True)
        yield
    finally:
        (run_dir / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()


RUNS_FOLDER, SWEEPS_FOLDER = "outputs/runs", "outputs/multirun"  # where new runs and sweeps go (dated_folder)


def dated_folder(root: str) -> str:
    """root/<date>/<time>-<6 hex digits>: a new folder that no run started in the same second shares."""
    return f"{root}/{time.strftime('%Y-%m-%d/%H-%M-%S')}-{secrets.token_hex(3)}"


def remove_debris(run_dir: Path) -> bool:
    """A run refused before any work, in a folder this command created, leaves nothing behind: Hydra's
    .hydra/, log.txt and the lock file go, then the folder and an emptied date folder of outputs/runs/.
    Returns whether it did (never for a folder with a state.json, or one whose lock is held)."""
    if not run_dir.is_dir() or (run_dir / STATE_NAME).exists() or not lock_is_free(run_dir):
        return False
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    for name in ("log.txt", LOCK_NAME, HOLDER_NAME):
        (run_dir / name).unlink(missing_ok=True)
    for folder in (run_dir, run_dir.parent):  # rmdir only removes an empty folder
        if folder is run_dir.parent and folder.parent.name != "runs":
            break
        try:
            folder.rmdir()
        except OSError:
            break
    return True


def keep_rows(path: Path, keep: Callable[[pd.DataFrame], pd.Series]) -> int:
    """Rewrite a CSV atomically keeping the rows where keep(frame) is true; returns how many were dropped.

    The kept lines are written back byte for byte (LF endings, as every CSV here). A last line with no line
    end (a kill during a write) is torn and dropped; a file without a whole header line is removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # whole lines only
    lines = complete.splitlines(keepends=True)
    if not lines:
        path.unlink()
        return 0
    header, body = lines[0], lines[1:]
    torn = int(len(complete) != len(data))
    if body:
        numeric = pd.read_csv(io.BytesIO(header + b"".join(body)))
        mask = keep(numeric).to_numpy()
        kept = [line for line, keep_it in zip(body, mask, strict=True) if keep_it]
    else:
        kept = []
    if len(kept) != len(body) or torn:
        atomic_write(path, lambda handle: handle.write(header + b"".join(kept)))
    return len(body) - len(kept) + torn


def check_finite(row: dict[str, Any], keys: tuple[str, ...], *, where: str, mode: str) -> None:
    """Stop (mode stop) or warn (mode warn) when one of row[keys] is NaN or inf; tiny values are fine."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            message = f"{key} became {value} at {where}"
            if mode == "stop":
                raise NonFiniteError(
                    f"{message}; lower the learning rate, or set on_nonfinite=warn to carry on"
                )
            log.warning("%s (on_nonfinite=warn: carrying on)", message)
