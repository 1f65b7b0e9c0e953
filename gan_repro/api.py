"""The Python API for notebooks: start a run as the command line would, and load runs and sweeps.

    from gan_repro import api
    run = api.run(["dataset=digits", "scale=quick"])   # as `gan-repro dataset=digits scale=quick`
    run.probe                                          # probe.csv as a DataFrame
    run.summary["claims"]                              # the paper's claims, measured on this run
    api.load_run("outputs/runs/2025-01-01/12-00-00-abc123")
    api.load_sweep("outputs/multirun/2025-01-01/12-00-00-abc123")   # each job, and results.csv, claims.csv

`run` composes the config with Hydra's compose API from the package's conf/ (the command line's overrides,
not its flags), checks it as `gan-repro` does (the same one-line errors, errors.py), and calls the pipeline's
own entry (pipeline.run) into a run folder holding what a `gan-repro` run folder holds. Loading reads the
files alone: every CSV at a folder's top level becomes a DataFrame named after it, so a table added to the
run folder later (or a theory-lab experiment's own) is loaded with no change here.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from gan_repro.errors import ConfigError, GanReproError, RunStateError
from gan_repro.runstate import ENVIRONMENT_NAME, STATE_NAME, Interrupted, StopFlag, check_run_format


# ----------------------------------------------------------------------------- loading
def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV at the folder's top level as a DataFrame, named by its file name without .csv."""
    tables = {}
    for path in sorted(folder.glob("*.csv")):
        try:
            tables[path.stem] = pd.read_csv(path)
        except (OSError, ValueError) as error:  # pandas' ParserError and EmptyDataError are ValueErrors
            raise RunStateError(str(path), f"cannot be read as CSV ({first_line(error)})") from None
    return tables


def first_line(error: BaseException) -> str:
    """An error's first line, shortened: for a one-line message that quotes it."""
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0][:160]


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from path ({} when the file does not exist yet)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunStateError(str(path), f"cannot be read as JSON ({first_line(error)})") from None
    if not isinstance(data, dict):
        raise RunStateError(str(path), f"holds {type(data).__name__}, not a JSON object")
    return data


def named_table(folder: Path, tables: dict[str, pd.DataFrame], name: str, advice: str) -> pd.DataFrame:
    """tables[name], or a ConfigError naming the missing <name>.csv and what to do."""
    if name not in tables:
        held = ", ".join(f"{key}.csv" for key in tables) or "no CSV"
        raise ConfigError(f"{name}.csv", f"{folder} has none (it holds {held}); {advice}")
    return tables[name]


@dataclass(frozen=True)
class Run:
    """One run folder, loaded: its settings, every CSV as a DataFrame, summary, environment and figures."""

    folder: Path
    config: DictConfig  # config.yaml: the resolved settings the run ran with
    tables: dict[str, pd.DataFrame]  # every <name>.csv of the folder: train, probe, snapshots, noise, ...
    summary: dict[str, Any]  # summary.json: settings, per-snapshot values, claims ({} before it finishes)
    environment: dict[str, Any]  # environment.json: git commit, Python, torch, library versions
    figures: dict[str, Path]  # figures/<file>: {"fig1.png": path, "fig1.pdf": path, ...}

    def table(self, name: str) -> pd.DataFrame:
        """<name>.csv as a DataFrame; a ConfigError naming it when the run has none."""
        return named_table(
            self.folder, self.tables, name, "the experiment or stage that writes it did not run here"
        )

    @property
    def train(self) -> pd.DataFrame:
        """train.csv: one row per logged training iteration (G steps)."""
        return self.table("train")

    @property
    def probe(self) -> pd.DataFrame:
        """probe.csv: one row per logged D iteration of each snapshot's fresh D (Figures 1-3)."""
        return self.table("probe")

    @property
    def snapshots(self) -> pd.DataFrame:
        """snapshots.csv: one row per snapshot of G (its G steps, distances to the data)."""
        return self.table("snapshots")

    @property
    def claims(self) -> list[dict[str, Any]]:
        """summary.json's claims: each with its id, the paper's sentence, threshold, value and verdict."""
        return list(self.summary.get("claims") or [])

    @property
    def status(self) -> str:
        """done, or how the run stopped (summary.json's status; 'running' before it has one)."""
        return str(self.summary.get("status", "running"))


def load_run(run_dir: str | Path) -> Run:
    """A run folder (gan-repro's or api.run's) as a Run; a ConfigError naming a folder that is not one, a
    RunStateError for one of another gan-repro format (runstate.check_run_format)."""
    folder = Path(run_dir).expanduser()
    saved = folder / "config.yaml"
    if not saved.is_file():
        what = "not a folder" if not folder.is_dir() else "not a gan-repro run folder (no config.yaml)"
        raise ConfigError(
            "run_dir", f"{folder} is {what}; give a folder that gan-repro or gan_repro.api.run wrote"
        )
    try:
        config = OmegaConf.load(saved)
    except Exception as error:  # garbled YAML, or not a mapping
        raise RunStateError(str(saved), f"cannot be read as a config ({first_line(error)})") from None
    if not isinstance(config, DictConfig):
        raise RunStateError(str(saved), "holds a list, not a config")
    check_run_format(folder)
    return Run(
        folder=folder,
        config=config,
        tables=read_tables(folder),
        summary=read_json(folder / "summary.json"),
        environment=read_json(folder / ENVIRONMENT_NAME),
        figures={path.name: path for path in sorted(folder.glob("figures/*")) if path.is_file()},
    )


@dataclass(frozen=True)
class Sweep:
    """A sweep folder (`gan-repro -m ...`), loaded: each job's Run, and the aggregate's tables if made."""

    folder: Path
    runs: dict[str, Run]  # job folder relative to the sweep ("0", "1", ...) -> its Run
    tables: dict[str, pd.DataFrame]  # gan-repro-plot SWEEP_DIR's CSVs: results, claims, claims_summary, ...

    def table(self, name: str) -> pd.DataFrame:
        """<name>.csv of the aggregate; a ConfigError saying how to make it when it is not there."""
        return named_table(
            self.folder, self.tables, name, f"aggregate the sweep first: gan-repro-plot {self.folder}"
        )

    @property
    def results(self) -> pd.DataFrame:
        """results.csv: every finished job's probe rows, with the swept keys as columns."""
        return self.table("results")

    @property
    def claims(self) -> pd.DataFrame:
        """claims.csv: every finished job's claims, one row per claim (and snapshot), with the swept keys."""
        return self.table("claims")


def job_order(job: Path) -> list[tuple[int, int | str]]:
    """A job folder's sort key: numbered parts as numbers (job 2 before job 10)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in job.parts]


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """A sweep folder as a Sweep: every job's Run, and the aggregate's CSVs if gan-repro-plot made them."""
    from gan_repro.aggregate import find_run_folders

    folder = Path(sweep_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError("sweep_dir", f"{folder} is not a folder; give a folder that gan-repro -m wrote")
    if (folder / "config.yaml").is_file():
        raise ConfigError("sweep_dir", f"{folder} is one run, not a sweep; load it with load_run")
    jobs = sorted(
        (job for job in find_run_folders([folder]) if (job / "config.yaml").is_file()),
        key=lambda job: job_order(job.relative_to(folder)),
    )
    if not jobs:
        raise ConfigError(
            "sweep_dir", f"{folder} holds no gan-repro run folders; give a folder that gan-repro -m wrote"
        )
    return Sweep(
        folder=folder,
        runs={str(job.relative_to(folder)): load_run(job) for job in jobs},
        tables=read_tables(folder),
    )


# ----------------------------------------------------------------------------- running
def check_overrides(overrides: Sequence[str]) -> None:
    """Overrides only (Hydra's flags belong to the command line), the folder given as run_dir, and no
    `+key=value` adding a key no config has; else a ConfigError."""
    from gan_repro.config import check_added_keys

    for override in overrides:
        if not isinstance(override, str):
            raise ConfigError("overrides", f"{override!r} is not text; give KEY=VALUE strings")
        if override.startswith("-"):
            raise ConfigError(
                "overrides", f"{override} is a command-line flag; api.run takes KEY=VALUE overrides only"
            )
        if override.lstrip("+").startswith(("hydra.run.dir=", "hydra.sweep.dir=")):
            raise ConfigError("overrides", f"{override}: give the run's folder as api.run(run_dir=...)")
    check_added_keys(overrides)


def hydra_log_format() -> str:
    """The line format of Hydra's job logging, which the command line's log.txt is written in."""
    from importlib.resources import files

    default = files("hydra") / "conf" / "hydra" / "job_logging" / "default.yaml"
    return str(OmegaConf.create(default.read_text()).formatters.simple.format)


@contextmanager
def run_log(folder: Path) -> Iterator[None]:
    """For the block: INFO log lines into folder/log.txt (created with the first line, once the pipeline has
    made the folder), and on stdout unless the caller's logging has a handler already."""
    root, previous = logging.getLogger(), logging.getLogger().level
    formatter = logging.Formatter(hydra_log_format())
    handlers: list[logging.Handler] = [logging.FileHandler(folder / "log.txt", delay=True)]
    if not root.handlers:
        handlers.append(logging.StreamHandler(sys.stdout))  # as Hydra's console handler
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.setLevel(previous)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


@contextmanager
def interrupt_flag() -> Iterator[StopFlag]:
    """A StopFlag that Ctrl-C (a notebook's 'interrupt') sets: the run saves its state and stops after the
    current step. Signals reach the main thread only: from another thread, a flag nothing sets."""
    if threading.current_thread() is not threading.main_thread():
        yield StopFlag()
        return
    with StopFlag().installed((signal.SIGINT,)) as stop:
        yield stop


def record_overrides(folder: Path, overrides: list[str], cfg: DictConfig) -> None:
    """.hydra/overrides.yaml and .hydra/config.yaml as `gan-repro` leaves them (report.md's command, and the
    composed config of a job refused before it started)."""
    from gan_repro.files import atomic_write

    for name, node in (("overrides.yaml", OmegaConf.create(overrides)), ("config.yaml", cfg)):
        text = OmegaConf.to_yaml(node).encode()
        atomic_write(folder / ".hydra" / name, lambda handle, text=text: handle.write(text))


def run(overrides: Sequence[str] | None = None, run_dir: str | Path | None = None) -> Run:
    """Run as `gan-repro OVERRIDES` would (same config, checks and run folder) and return the run, loaded.

    run_dir=None: a new folder outputs/runs/<date>/<time>-<id> under the current folder, as the command
    line makes. A folder that holds this run already is continued (resume=true), as with hydra.run.dir.
    Bad input raises a GanReproError (errors.py: a ConfigError for a bad setting) whose text is the command
    line's error line, and leaves no folder behind; Ctrl-C (a notebook's interrupt) saves the state and
    raises runstate.Interrupted."""
    from gan_repro import pipeline
    from gan_repro.config import composed, writable_folder_problem
    from gan_repro.runstate import RUNS_FOLDER, dated_folder, remove_debris

    if isinstance(overrides, str):  # list("seed=1") would be its letters
        raise ConfigError("overrides", f"give a list of overrides, e.g. [{overrides!r}], not one string")
    overrides = list(overrides or [])  # a generator is read once
    check_overrides(overrides)
    cfg = composed(overrides)
    folder = Path(run_dir if run_dir is not None else dated_folder(RUNS_FOLDER)).expanduser()
    problem = writable_folder_problem(folder.absolute())
    if problem is not None:
        raise ConfigError("run_dir", f"{problem}; choose another run_dir")
    pipeline.check_run_config(cfg)  # before the folder is made: a refused run leaves nothing behind
    new_folder = not folder.exists()
    try:
        if not (folder / STATE_NAME).exists():  # a folder holding a run keeps that run's own record
            record_overrides(folder, overrides, cfg)
        with run_log(folder), interrupt_flag() as stop:
            pipeline.run(cfg, folder, stop=stop)
    except GanReproError:
        if new_folder:
            remove_debris(folder)  # refused before any work (a lab's own keys): no folder with only .hydra/
        raise
    except Interrupted as error:
        raise Interrupted(
            f"{error}; state saved. To resume: api.run({overrides!r}, run_dir={str(folder)!r})"
        ) from None
    return load_run(folder)
