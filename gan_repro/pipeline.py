"""One whole run: check the config, open the run folder, then train -> probe -> (experiment=updates: G's
steps) -> plot, with the cache, its locks and resume. `gan-repro` (cli.py) calls `run`; so do the tests. A
theory-lab experiment is reached through its config (`lab._target_`), so no core module imports the lab."""

from __future__ import annotations

import logging
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from gan_repro.cache import STAGE_FILES, link_or_copy, stage_entry, stage_files
from gan_repro.checkpoints import Snapshot, snapshots
from gan_repro.config import check_config
from gan_repro.data import DataSplits, batches_per_epoch, place_dataset, split_dataset
from gan_repro.download import download_dataset
from gan_repro.environment import write_environment
from gan_repro.errors import CheckpointRefused, ConfigError, RunStateError
from gan_repro.files import atomic_write, write_json
from gan_repro.logger import TENSORBOARD_FOLDER, TensorBoardMirror
from gan_repro.plot import draw_figures, draw_samples_figure
from gan_repro.prepare import build_dataset
from gan_repro.probe import probe
from gan_repro.report import format_claim, write_summary
from gan_repro.runstate import (
    STATE_NAME,
    Interrupted,
    NonFiniteError,
    RunControl,
    RunState,
    StopFlag,
    run_folder_lock,
)
from gan_repro.schema import RUN_ONLY_KEYS  # may differ between a run and its continuation
from gan_repro.train import train
from gan_repro.updates import check_updates, run_updates
from gan_repro.writeup import write_report

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def open_run(cfg: DictConfig, run_dir: Path) -> RunState:
    """A new run's state, or the saved state of the run this folder holds (checked to be the same run)."""
    state = RunState.load(run_dir / STATE_NAME)
    if state is None:
        atomic_write(
            run_dir / "config.yaml",
            lambda handle: handle.write(OmegaConf.to_yaml(cfg, resolve=True).encode()),
        )
        state = RunState(path=run_dir / STATE_NAME)
        state.save()
        write_environment(run_dir)
        return state
    check_same_run(cfg, run_dir)
    log.info("resuming the run in %s (status was %s)", run_dir, state.status)
    state.status = "running"
    state.save()
    write_environment(run_dir)  # the code and versions that carry the run on
    return state


def check_same_run(cfg: DictConfig, run_dir: Path) -> None:
    """A folder that holds a run is continued only by that run: with resume=true and the same settings
    (run-only keys aside); else a ConfigError saying what to do. (RunState.load has refused a folder of
    another gan-repro format already.)"""
    if not cfg.resume:
        raise ConfigError(
            "resume",
            f"{run_dir} already holds a run; rerun with resume=true to continue it, "
            "or choose another hydra.run.dir",
        )
    try:
        saved = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=True)
        if not isinstance(saved, dict):
            raise ValueError("not a mapping of settings")
    except Exception as error:  # missing, garbled YAML, or not a config at all
        first = (str(error).strip().splitlines() or [error.__class__.__name__])[0][:160]
        raise RunStateError(
            "resume",
            f"{run_dir / 'config.yaml'} is missing or unreadable ({first}), so this run cannot be checked "
            "and continued; choose another hydra.run.dir",
        ) from None
    current = OmegaConf.to_container(cfg, resolve=True)
    differing = sorted(
        key
        for key in set(saved) | set(current)
        if key not in RUN_ONLY_KEYS and saved.get(key) != current.get(key)
    )
    if differing:
        raise ConfigError(
            "resume",
            f"{run_dir} holds a run with other settings ({', '.join(differing)} differ); "
            "rerun its own command, or choose another hydra.run.dir",
        )


def train_stage(
    cfg: DictConfig,
    *,
    dataset: Dataset,
    run_dir: Path,
    device: torch.device,
    control: RunControl | None = None,
) -> list[int]:
    """train.train with the config nodes it reads; returns the snapshots' G steps."""
    control = control or RunControl(on_nonfinite=cfg.on_nonfinite, quiet=cfg.quiet)
    return train(
        cfg.train,
        model_cfg=cfg.model,
        dataset_cfg=cfg.dataset,
        loss_cfg=cfg.loss,
        noise_cfg=cfg.noise,
        distance_cfg=cfg.distance,
        performance_cfg=cfg.performance,
        seed=cfg.seed,
        dataset=dataset,
        run_dir=run_dir,
        device=device,
        control=control,
    )


def probe_stage(
    cfg: DictConfig,
    *,
    snapshots: list[Snapshot],
    splits: DataSplits,
    run_dir: Path,
    device: torch.device,
    state: RunState | None = None,
    control: RunControl | None = None,
) -> Path:
    """probe.probe with the config nodes it reads; returns probe.csv."""
    control = control or RunControl(on_nonfinite=cfg.on_nonfinite, quiet=cfg.quiet)
    return probe(
        cfg.probe,
        critic_cfg=cfg.critic,
        model_cfg=cfg.model,
        dataset_cfg=cfg.dataset,
        noise_cfg=cfg.noise,
        performance_cfg=cfg.performance,
        seed=cfg.seed,
        num_workers=cfg.train.num_workers,
        snapshots=snapshots,
        splits=splits,
        run_dir=run_dir,
        device=device,
        state=state,
        control=control,
    )


def updates_stage(
    cfg: DictConfig,
    *,
    snapshots: list[Snapshot],
    splits: DataSplits,
    run_dir: Path,
    device: torch.device,
    control: RunControl | None = None,
) -> Path:
    """updates.run_updates with the config nodes it reads; returns updates.csv."""
    return run_updates(
        cfg.updates,
        probe_cfg=cfg.probe,
        critic_cfg=cfg.critic,
        model_cfg=cfg.model,
        dataset_cfg=cfg.dataset,
        train_cfg=cfg.train,
        distance_cfg=cfg.distance,
        performance_cfg=cfg.performance,
        clip_sigmas=float(cfg.noise.clip_sigmas),
        seed=cfg.seed,
        num_workers=cfg.train.num_workers,
        snapshots=snapshots,
        splits=splits,
        run_dir=run_dir,
        device=device,
        control=control or RunControl(on_nonfinite=cfg.on_nonfinite, quiet=cfg.quiet),
    )


def load_splits(dataset_cfg: DictConfig, device: torch.device, data_on_device: str | bool) -> DataSplits:
    """The dataset, placed (on the GPU when it fits), and split once: training images and held-out ones."""
    dataset = place_dataset(build_dataset(dataset_cfg), device, data_on_device)
    log.info(
        "data: %s, %d images at %dx%d",
        dataset_cfg.name,
        len(dataset),
        dataset_cfg.image_size,
        dataset_cfg.image_size,
    )
    return split_dataset(
        dataset,
        fraction=float(dataset_cfg.heldout_fraction),
        minimum=int(dataset_cfg.heldout_minimum),
        seed=int(dataset_cfg.heldout_seed),
    )


CACHE_HIT_MESSAGES = {  # what the log says when a stage is copied from the cache
    "train": "train: using the cached generator %s (trained by an earlier run with the same inputs; "
    "cache=false retrains)",
    "probe": "probe: using the cached results %s (cache=false measures again)",
    "updates": "updates: using the cached results %s (cache=false measures again)",
}


def open_mirror(cfg: DictConfig, run_dir: Path) -> TensorBoardMirror | None:
    """logger=tensorboard: the mirror of every CSV row, under <run_dir>/tensorboard/; else None."""
    return TensorBoardMirror(run_dir / TENSORBOARD_FOLDER) if cfg.logger == "tensorboard" else None


def mirror_restored(stage: str, run_dir: Path, mirror: TensorBoardMirror | None) -> None:
    """A stage copied from the cache logged no rows: its CSVs' rows go to the mirror at once."""
    if mirror is None:
        return
    for name in STAGE_FILES[stage]:
        if name.endswith(".csv"):
            mirror.write(Path(name).stem, pd.read_csv(run_dir / name).to_dict("records"))


def cached_stage(
    cfg: DictConfig,
    stage: str,
    device: torch.device,
    run_dir: Path,
    compute: Callable[[], Any],
    mirror: TensorBoardMirror | None = None,
) -> Path | None:
    """Copy the stage's results from the cache when a run with the same inputs made them (and they pass
    their SHA-256 check); else compute them and publish them. Jobs with the same inputs wait on the entry's
    lock, then reuse it. Returns the cache entry the results were copied from, or None."""
    with stage_entry(cfg, stage, device).locked() as entry:
        if entry.restore(run_dir):
            log.info(CACHE_HIT_MESSAGES[stage], entry.folder)
            mirror_restored(stage, run_dir, mirror)
            return entry.folder
        compute()
        entry.publish(run_dir)
    return None


GENERATORS_FROM_MESSAGE = (  # what the log says instead of training, with probe.generators_from
    "train: not run here; probing the snapshots of %s (probe.generators_from), linked into this run folder"
)


def generators_source(cfg: DictConfig) -> Path | None:
    """probe.generators_from's folder, resolved; None when this run trains its own generators."""
    value = cfg.probe.get("generators_from")
    return None if value is None else Path(str(value)).expanduser().resolve()


def adopt_generators(source: Path, run_dir: Path) -> None:
    """probe.generators_from: another run's training files put into this run folder as a cache entry's are
    (checkpoints and samples hard-linked, CSVs copied); the probe then loads each snapshot through the one
    checkpoint loader (weights only, refused unless this run's model and data match)."""
    if source == run_dir.resolve():
        raise ConfigError(
            "probe.generators_from",
            f"{source} is this run's own folder; point it at another run's, or set it to null to train here",
        )
    for relative in stage_files("train", source):
        link_or_copy(source / relative, run_dir / relative)
    log.info(GENERATORS_FROM_MESSAGE, source)


def check_adopted(source: Path, frozen: list[Snapshot]) -> None:
    """Every snapshot this run probes is among those adopted from `source`: else one ConfigError line."""
    missing = [snapshot.path.name for snapshot in frozen if not snapshot.path.is_file()]
    if missing:
        raise ConfigError(
            "probe.generators_from",
            f"{source} has no checkpoints/{missing[0]} (its training did not finish, or its files were "
            "moved); point it at a finished run, or set it to null to train here",
        )


def blame_adopted(error: CheckpointRefused, source: Path | None) -> CheckpointRefused:
    """A snapshot adopted with probe.generators_from that cannot be loaded: the error names that setting."""
    if source is None:
        return error
    return CheckpointRefused(
        "probe.generators_from",
        f"{error.message}; it came from {source}: point probe.generators_from at another run, or set it to "
        "null to train here",
    )


def blame_cache_entry(error: CheckpointRefused, state: RunState) -> CheckpointRefused:
    """A snapshot that came from the cache and cannot be loaded: name the entry, move it aside, and mark
    training unfinished, so that a rerun trains again instead of failing the same way."""
    entry = Path(state.train_cache_entry or "")
    if not state.train_cache_entry:
        return error
    if entry.is_dir():
        aside = entry.with_name(f"{entry.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            entry.rename(aside)
        except OSError:
            pass
    state.train_complete, state.train_cache_entry = False, None
    state.save()
    return CheckpointRefused(
        error.setting,
        f"{error.message}; it came from the cache entry {entry}, now moved aside: rerun to train again",
    )


def run_stages(
    cfg: DictConfig,
    run_dir: Path,
    state: RunState,
    device: torch.device,
    control: RunControl,
    timings: dict[str, float],
) -> None:
    """Data, training, the probe and (experiment=updates) the generator steps, each skipped when this run
    finished it, or copied from the cache."""
    # Step 1: data, scaled to [-1, 1] at dataset.image_size, split into training and held-out images.
    start = time.perf_counter()
    if cfg.dataset.get("download"):
        download_dataset(cfg.dataset)
    splits = load_splits(cfg.dataset, device, cfg.performance.data_on_device)
    timings["data_s"] = time.perf_counter() - start

    # Step 2: train the GAN, snapshotting G after train.snapshot_epochs and train.snapshot_iterations.
    start = time.perf_counter()
    adopted = generators_source(cfg)
    if state.train_complete:
        log.info("train: done in an earlier run; using its snapshots")
    elif adopted is not None:
        adopt_generators(adopted, run_dir)
        state.train_complete = True
        state.save()
    else:
        source = cached_stage(
            cfg,
            "train",
            device,
            run_dir,
            lambda: train_stage(cfg, dataset=splits.train, run_dir=run_dir, device=device, control=control),
            control.mirror,
        )
        state.train_complete, state.train_cache_entry = True, str(source) if source else None
        state.save()
    frozen = snapshots(cfg.train, batches_per_epoch(splits.train, cfg.train.batch_size), run_dir)
    if adopted is not None:
        check_adopted(adopted, frozen)
    timings["train_s"] = time.perf_counter() - start

    # Step 3: freeze each snapshot, train a fresh D from scratch, measure (finished probes are skipped).
    start = time.perf_counter()
    if not state.probe_complete:
        try:
            cached_stage(
                cfg,
                "probe",
                device,
                run_dir,
                lambda: probe_stage(
                    cfg,
                    snapshots=frozen,
                    splits=splits,
                    run_dir=run_dir,
                    device=device,
                    state=state,
                    control=control,
                ),
                control.mirror,
            )
        except CheckpointRefused as error:
            raise blame_adopted(blame_cache_entry(error, state), adopted) from None
        state.probe_complete = True
        state.save()
    timings["probe_s"] = time.perf_counter() - start

    # Step 4 (experiment=updates): G's steps against the paper's D at its stages (snapshots done are kept).
    if cfg.get("updates") is None:
        return
    start = time.perf_counter()
    if not state.updates_complete:
        try:
            cached_stage(
                cfg,
                "updates",
                device,
                run_dir,
                lambda: updates_stage(
                    cfg, snapshots=frozen, splits=splits, run_dir=run_dir, device=device, control=control
                ),
                control.mirror,
            )
        except CheckpointRefused as error:
            raise blame_adopted(blame_cache_entry(error, state), adopted) from None
        state.updates_complete = True
        state.save()
    timings["updates_s"] = time.perf_counter() - start


def lab_entry(cfg: DictConfig) -> Callable[..., dict[str, Any]]:
    """The function a theory-lab config names in lab._target_ (no core module imports the lab)."""
    from hydra.utils import get_method

    target = cfg.lab.get("_target_")
    try:
        return get_method(target)
    except Exception as error:  # absent, misspelt, or not a function
        raise ConfigError(
            "lab._target_",
            f"cannot use {target!r} ({' '.join(str(error).split())[:120]}); experiment=lab_* sets "
            "gan_repro.lab.runner.run_lab",
        ) from None


def run_lab(cfg: DictConfig, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """A theory-lab experiment: its entry checks lab.*, then calls `begin` to open the run folder (so a bad
    setting leaves no run behind), then does the work."""
    opened: list[RunState] = []

    def begin() -> None:
        opened.append(open_run(cfg, run_dir))

    summary = lab_entry(cfg)(cfg, run_dir=run_dir, device=device, begin=begin)
    opened[0].status = "done"
    opened[0].save()
    return summary


def run_settings(cfg: DictConfig, device: torch.device) -> dict[str, Any]:
    """What summary.json records about how the run was made."""
    adopted = generators_source(cfg)
    return {
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "loss": cfg.loss.name,
        "noise": OmegaConf.to_container(cfg.noise, resolve=True),
        "seed": cfg.seed,
        "device": str(device),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "generators_from": str(adopted) if adopted else None,  # the run whose snapshots were probed
    }


def check_run_config(cfg: DictConfig) -> torch.device:
    """Every setting a run reads, checked before anything is written; returns the device to use."""
    device = check_config(cfg)
    if cfg.get("updates") is not None:  # experiment=updates declares its own keys' rules (updates.SETTINGS)
        check_updates(cfg)
    return device


def run(cfg: DictConfig, run_dir: Path, *, stop: StopFlag | None = None) -> dict[str, Any]:
    """Train, probe and plot into run_dir, continuing what an earlier run there left; returns the summary.
    The run holds run_dir's lock throughout: a second run into the same folder is refused."""
    device = check_run_config(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_folder_lock(run_dir):
        return run_locked(cfg, run_dir, device, stop=stop)


def run_locked(
    cfg: DictConfig, run_dir: Path, device: torch.device, *, stop: StopFlag | None = None
) -> dict[str, Any]:
    """run(), once the settings are checked and the folder is locked."""
    # Step 1: seed; open the run folder (a theory-lab experiment checks its own settings first).
    seed_everything(cfg.seed)
    log.info("run folder %s, device %s, %d CPU threads", run_dir, device, torch.get_num_threads())
    if cfg.get("lab") is not None:  # a theory-lab experiment (experiment=lab_*) instead of the GAN pipeline
        return run_lab(cfg, run_dir, device)
    state = open_run(cfg, run_dir)

    # Step 2: data, training and the probe; a stop or a NaN leaves a resumable state and a summary saying so.
    timings: dict[str, float] = {}
    settings = run_settings(cfg, device)
    control = RunControl(
        stop=stop or StopFlag(),
        on_nonfinite=cfg.on_nonfinite,
        quiet=cfg.quiet,
        mirror=open_mirror(cfg, run_dir),
    )
    try:
        run_stages(cfg, run_dir, state, device, control, timings)
    except (Interrupted, NonFiniteError, OSError) as error:
        state.status = "interrupted" if isinstance(error, Interrupted) else "failed"
        try:  # on a full disk these may fail too: state.json then still says running, which resumes alike
            state.save()
            write_json(
                run_dir / "summary.json",
                {
                    **settings,
                    "status": state.status,
                    "stopped_at": str(error),
                    "state": {
                        "train_complete": state.train_complete,
                        "probe_units_done": state.probe_units_done,
                        "updates_complete": state.updates_complete,
                    },
                },
            )
        except OSError:
            if not isinstance(error, OSError):
                raise
        raise
    finally:
        if control.mirror is not None:
            control.mirror.close()

    # Step 3: summary.json (and noise.csv), then the figures, from the CSVs alone.
    start = time.perf_counter()
    summary = write_summary(run_dir, window=cfg.plot.window, extra=settings | {"status": "done"})
    draw_figures(
        run_dir, figures=list(cfg.plot.figures), window=cfg.plot.window, formats=list(cfg.plot.formats)
    )
    draw_samples_figure(run_dir, formats=list(cfg.plot.formats))
    timings["plot_s"] = time.perf_counter() - start
    summary["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    write_json(run_dir / "summary.json", summary)
    write_report(run_dir)  # report.md, from the files just written
    state.status = "done"
    state.save()
    for claim in summary["claims"]:
        log.info("%s", format_claim(claim))
    log.info("done in %.1f s: %s", sum(timings.values()), run_dir)
    return summary
