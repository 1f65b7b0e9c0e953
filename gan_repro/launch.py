"""A Hydra job's place on the machine: in a sweep, its share of the CPU threads and GPUs, and the stop flag it
checks in whatever process its launcher (basic, joblib, submitit) runs it. `gan-repro` (cli.py) calls both
inside the Hydra app, where HydraConfig says which launcher and job this is."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from gan_repro.runstate import STOP_FILE, StopFlag, installed_flag


def share_machine(cfg: DictConfig) -> None:
    """In a sweep, give this job its share of the CPU threads (joblib's n_jobs, or the launcher's
    cpus_per_task) and, on a machine with several GPUs, a GPU of its own (job number modulo GPU count)."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return
    launcher, cpus = hydra_cfg.launcher, os.cpu_count() or 1
    threads = None
    if launcher.get("cpus_per_task"):
        threads = int(launcher.cpus_per_task)
    elif "joblib" in str(launcher.get("_target_", "")) and isinstance(launcher.get("n_jobs"), int):
        parallel = (
            launcher.n_jobs if launcher.n_jobs > 0 else max(1, cpus + 1 + launcher.n_jobs)
        )  # joblib: -1 = all
        threads = max(1, cpus // parallel)
    if threads is not None:
        torch.set_num_threads(threads)
    if cfg.device == "auto" and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        with open_dict(cfg):
            cfg.device = f"cuda:{hydra_cfg.job.num % torch.cuda.device_count()}"


@contextmanager
def job_stop_flag(multirun: bool) -> Iterator[StopFlag]:
    """The stop flag a run checks between steps. A single run: its own, set by SIGINT/SIGTERM. A sweep job in
    the sweep's own process (the basic launcher): the sweep's flag, already listening. A sweep job in another
    process (joblib, submitit): a flag that also watches the sweep's stop file, which the sweep writes on
    SIGINT/SIGTERM. Under submitit, SIGTERM stays submitit's: it bypasses it, because on SLURM a preemption
    sends SIGTERM along with the signal on which submitit requeues the job."""
    if not multirun:
        with StopFlag().installed() as stop:
            yield stop
        return
    shared = installed_flag()
    if shared is not None:
        yield shared
        return
    hydra_cfg = HydraConfig.get()
    sweep_dir = Path(hydra_cfg.runtime.cwd) / str(hydra_cfg.sweep.dir)  # Hydra's cwd: the sweep's own
    submitit = "submitit" in str(hydra_cfg.launcher.get("_target_", ""))
    signals = (signal.SIGINT,) if submitit else (signal.SIGINT, signal.SIGTERM)
    try:
        with StopFlag(sweep_dir / STOP_FILE).installed(signals) as stop:
            yield stop
    finally:  # between jobs a worker ignores Ctrl-C: a KeyboardInterrupt in an idle loky worker breaks the
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # pool, and loky then kills the busy ones mid-step
