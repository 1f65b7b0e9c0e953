"""`gan-repro`: the Hydra entry point. Seed, run folder, build objects, run the three stages."""
from __future__ import annotations

import logging
import os
import platform
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_repro.aggregate import job_statuses
from gan_repro.cache import stage_entry
from gan_repro.config import check_config, config_dir
from gan_repro.data import build_dataset, place_dataset
from gan_repro.download import download_dataset
from gan_repro.errors import ConfigError
from gan_repro.files import atomic_write, write_json
from gan_repro.lab.runner import run_lab
from gan_repro.plot import draw_figures
from gan_repro.probe import probe
from gan_repro.report import write_summary
from gan_repro.runstate import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_NONFINITE, Interrupted, NonFiniteError,
                                RunState, StopFlag)
from gan_repro.train import snapshot_paths, train

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


RUN_ONLY_KEYS = ("resume", "quiet", "debug")  # may differ between a run and its continuation


def open_run(cfg: DictConfig, run_dir: Path) -> RunState:
    """A new run's state, or the saved state of the run this folder holds (checked to be the same run)."""
    state = RunState.load(run_dir / "state.json")
    if state is None:
        atomic_write(run_dir / "config.yaml", lambda handle: handle.write(OmegaConf.to_yaml(cfg, resolve=True).encode()))
        state = RunState(path=run_dir / "state.json")
        state.save()
        return state
    if not cfg.resume:
        raise ConfigError("resume", f"{run_dir} already holds a run; rerun with resume=true to continue it, "
                          "or choose another hydra.run.dir")
    saved = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=True)
    current = OmegaConf.to_container(cfg, resolve=True)
    differing = sorted(key for key in set(saved) | set(current)
                       if key not in RUN_ONLY_KEYS and saved.get(key) != current.get(key))
    if differing:
        raise ConfigError("resume", f"{run_dir} holds a run with other settings ({', '.join(differing)} differ); "
                          "rerun its own command, or choose another hydra.run.dir")
    log.info("resuming the run in %s (status was %s)", run_dir, state.status)
    state.status = "running"
    state.save()
    return state


def run(cfg: DictConfig, run_dir: Path, *, stop: StopFlag | None = None) -> dict[str, Any]:
    """Train, probe and plot into run_dir, continuing what an earlier run there left; returns the summary."""
    # Step 1: check every setting before anything is written or trained.
    device = check_config(cfg)

    # Step 2: seed, and open the run folder: a new run (resolved config saved) or the one to continue.
    seed_everything(cfg.seed)
    run_dir, stop = Path(run_dir), stop or StopFlag()
    run_dir.mkdir(parents=True, exist_ok=True)
    state = open_run(cfg, run_dir)
    log.info("run folder %s, device %s, %d CPU threads", run_dir, device, torch.get_num_threads())
    if cfg.get("lab") is not None:  # a theory-lab experiment (experiment=lab_*) instead of the GAN pipeline
        summary = run_lab(cfg, run_dir, device=device)
        state.status = "done"
        state.save()
        return summary
    timings: dict[str, float] = {}
    extra = {"dataset": cfg.dataset.name, "model": cfg.model.name, "loss": cfg.loss.name,
             "noise": OmegaConf.to_container(cfg.noise, resolve=True), "seed": cfg.seed, "device": str(device),
             "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
             "threads": torch.get_num_threads()}
    try:
        # Step 3: data, scaled to [-1, 1] at dataset.image_size.
        start = time.perf_counter()
        if cfg.dataset.get("download"):
            download_dataset(cfg.dataset)
        dataset = place_dataset(build_dataset(cfg.dataset), device, cfg.performance.data_on_device)
        timings["data_s"] = time.perf_counter() - start
        log.info("data: %s, %d images at %dx%d", cfg.dataset.name, len(dataset), cfg.dataset.image_size,
                 cfg.dataset.image_size)

        # Step 4: train the GAN, snapshotting G after each of train.snapshot_epochs: skipped when this run
        # did it already, copied from the cache when a run with the same inputs did (cache.py).
        start = time.perf_counter()
        if state.train_complete:
            log.info("train: done in an earlier run; using its snapshots")
        else:
            with stage_entry(cfg, "train", device).locked() as entry:  # same inputs elsewhere: wait, then reuse
                if entry.restore(run_dir):
                    log.info("train: using the cached generator %s (trained by an earlier run with the same "
                             "inputs; cache=false retrains)", entry.folder)
                else:
                    train(cfg, dataset=dataset, run_dir=run_dir, device=device, stop=stop)
                    entry.publish(run_dir)
            state.train_complete = True
            state.save()
        checkpoints = snapshot_paths(cfg, run_dir)
        timings["train_s"] = time.perf_counter() - start

        # Step 5: freeze each snapshot, train a fresh D from scratch, measure (finished probes are skipped;
        # the whole probe.csv is copied from the cache when a run with the same inputs measured it).
        start = time.perf_counter()
        if not state.probe_complete:
            with stage_entry(cfg, "probe", device).locked() as entry:
                if entry.restore(run_dir):
                    log.info("probe: using the cached results %s (cache=false measures again)", entry.folder)
                else:
                    probe(cfg, checkpoints=checkpoints, dataset=dataset, run_dir=run_dir, device=device, state=state,
                          stop=stop)
                    entry.publish(run_dir)
            state.probe_complete = True
            state.save()
        timings["probe_s"] = time.perf_counter() - start
    except (Interrupted, NonFiniteError) as error:
        state.status = "interrupted" if isinstance(error, Interrupted) else "failed"
        state.save()
        write_json(run_dir / "summary.json", {**extra, "status": state.status, "stopped_at": str(error),
                                              "state": {"train_complete": state.train_complete,
                                                        "probe_units_done": state.probe_units_done}})
        raise

    # Step 6: summary.json (and noise.csv), then the figures, from the CSVs alone.
    start = time.perf_counter()
    summary = write_summary(run_dir, window=cfg.plot.window, extra=extra | {"status": "done"})
    draw_figures(run_dir, figures=list(cfg.plot.figures), window=cfg.plot.window, formats=list(cfg.plot.formats))
    timings["plot_s"] = time.perf_counter() - start
    summary["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    write_json(run_dir / "summary.json", summary)
    state.status = "done"
    state.save()
    for claim in summary["claims"]:
        log.info("%s %s: measured %s", "HOLDS " if claim["holds"] else "FAILS ", claim["claim"], claim["measured"])
    log.info("done in %.1f s: %s", sum(timings.values()), run_dir)
    return summary


def resume_command(run_dir: Path) -> str:
    """The command that continues this run: the same overrides, pointed at the same folder."""
    try:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
    except ValueError:  # not under @hydra.main (tests)
        overrides = []
    return " ".join(["gan-repro", *overrides, f"hydra.run.dir={run_dir}"])


def report_error(message: str, run_dir: Path | None) -> None:
    """One line on stderr, and the same line in the run's log.txt."""
    print(f"error: {message}", file=sys.stderr)
    if run_dir is not None and run_dir.is_dir():
        with open(run_dir / "log.txt", "a") as handle:
            handle.write(f"error: {message}\n")


def override_problem(arguments: list[str]) -> str | None:
    """Compose the config as Hydra will, and return Hydra's complaint about the overrides as one line, if any.

    Only for a single run given plain overrides: flags (-m, --cfg, --help, ...) go to Hydra untouched."""
    if any(argument.startswith("-") for argument in arguments):
        return None
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            compose(config_name="config", overrides=arguments)
    except Exception as error:  # Hydra's override grammar, missing group options, unknown keys
        message = " ".join(str(error).split()).split(" Config search path:")[0]  # one line, no search-path dump
        return message or error.__class__.__name__
    finally:
        GlobalHydra.instance().clear()
    return None


def unique_folder_override(arguments: list[str]) -> list[str]:
    """A run (or sweep) folder named by date, time and a random suffix, unless the command names one: two
    runs started in the same second never share a folder, and every job of a sweep, in whatever process a
    launcher starts it, gets the same sweep folder (Hydra's ${now:} is evaluated again in each process)."""
    multirun = any(argument in ("-m", "--multirun") for argument in arguments)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    if any(argument.lstrip("+").startswith(f"{key}=") for argument in arguments):
        return []
    folder = "outputs/multirun" if multirun else "outputs/runs"
    return [f"{key}={folder}/{time.strftime('%Y-%m-%d/%H-%M-%S')}-{secrets.token_hex(3)}"]


def sweep_folder(arguments: list[str]) -> Path | None:
    """The hydra.sweep.dir a multirun command writes to (None for a single run)."""
    if not any(argument in ("-m", "--multirun") for argument in arguments):
        return None
    values = [argument.split("=", 1)[1] for argument in arguments if argument.lstrip("+").startswith("hydra.sweep.dir=")]
    return Path(values[-1]) if values else None


def main() -> None:
    """gan-repro [KEY=VALUE ...]: Figures 1-3 of Arjovsky & Bottou (2017). See conf/config.yaml."""
    problem = override_problem(sys.argv[1:])
    if problem is not None:
        print(f"error: overrides: {problem}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    sys.argv += unique_folder_override(sys.argv[1:])
    hydra_main()
    sweep = sweep_folder(sys.argv[1:])
    if sweep is not None and sweep.is_dir():  # a sweep: say which jobs finished, and fail if any did not
        jobs = job_statuses(sweep)
        unfinished = {folder: status for folder, status in jobs.items() if status != "done"}
        print(f"sweep: {len(jobs) - len(unfinished)} of {len(jobs)} jobs done in {sweep}; "
              f"aggregate with: gan-repro-plot {sweep}", file=sys.stderr)
        for folder, status in unfinished.items():
            print(f"error: job {folder}: {status}", file=sys.stderr)
        if unfinished:
            sys.exit(1)


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
        parallel = launcher.n_jobs if launcher.n_jobs > 0 else max(1, cpus + 1 + launcher.n_jobs)  # joblib: -1 = all
        threads = max(1, cpus // parallel)
    if threads is not None:
        torch.set_num_threads(threads)
    if cfg.device == "auto" and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        with open_dict(cfg):
            cfg.device = f"cuda:{hydra_cfg.job.num % torch.cuda.device_count()}"


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    """The Hydra app: one run in its own folder, with one-line errors and exit codes (runstate.py).

    In a sweep (-m), a job that fails is reported and marked, and the sweep goes on with the next job."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    show_traceback = cfg.get("debug") is True or os.environ.get("HYDRA_FULL_ERROR") == "1"
    share_machine(cfg)
    try:
        with StopFlag().installed() as stop:
            run(cfg, run_dir, stop=stop)
    except ConfigError as error:
        if show_traceback:
            raise
        report_error(f"{error} (debug=true shows the traceback)", run_dir)
        if not multirun:
            sys.exit(EXIT_BAD_INPUT)
    except NonFiniteError as error:
        if show_traceback:
            raise
        report_error(f"on_nonfinite: {error}", run_dir)
        if not multirun:
            sys.exit(EXIT_NONFINITE)
    except Interrupted as error:  # a stop request ends a sweep too
        report_error(f"interrupted at {error}; state saved. To resume: {resume_command(run_dir)}", run_dir)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:
        if not multirun or show_traceback:
            raise
        log.exception("job failed")  # the traceback goes to this job's log.txt; the sweep goes on
        report_error(f"{error.__class__.__name__}: {error} (traceback in {run_dir / 'log.txt'})", run_dir)


if __name__ == "__main__":
    main()
