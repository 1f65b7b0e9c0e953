"""dry_run=true: what a run would do, without doing it. Its data (read only to count it), each stage's
source as pipeline.run_stages decides it (this run folder's state.json first, when the folder holds this
same run; for training, probe.generators_from's run; then a verified cache entry; else computed), and how
many iterations each stage runs: training's epochs x full batches per epoch, the probe's units (snapshot x
swept sigma x critic, from probe.probe_units) x each critic's probe length (probe.iterations, or its own
critic.<name>.iterations)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_repro.cache import stage_entry
from gan_repro.checkpoints import snapshot_iterations
from gan_repro.critics import probe_critics
from gan_repro.data import read_dataset, split_dataset
from gan_repro.errors import DatasetError
from gan_repro.pipeline import check_same_run, generators_source
from gan_repro.probe import probe_length, probe_noises, probe_units
from gan_repro.report import CONTROL_SNAPSHOT
from gan_repro.runstate import STATE_NAME, RunState
from gan_repro.train import checked_batches_per_epoch
from gan_repro.updates import critic_stages, step_costs, updates_critics


def stage_source(cfg: DictConfig, stage: str, device: torch.device, done: bool) -> str:
    """Where a stage's results would come from: this run folder, a cache entry that passes its check, or
    computing them."""
    if done:
        return "done in this run folder already"
    if stage == "train" and generators_source(cfg) is not None:
        return f"not run: the snapshots of {generators_source(cfg)} are probed (probe.generators_from)"
    entry = stage_entry(cfg, stage, device)
    if entry.complete and entry.damage() is None:
        return f"from the cache ({entry.folder})"
    return "computed" if cfg.cache else "computed (cache=false)"


def plan_lines(cfg: DictConfig, device: torch.device, run_dir: Path | None = None) -> list[str]:
    """What a run with this (checked) config would do, one line per step; nothing is trained or written."""
    lines = ["dry run: every setting passes the run's checks; nothing is computed or written"]
    if cfg.get("lab") is not None:
        return [*lines, f"lab: the theory-lab experiment {cfg.lab.get('name')}, computed (it has no cache)"]
    state = RunState.load(run_dir / STATE_NAME) if run_dir is not None else None
    if state is not None:  # the folder holds a run: only that run may continue it
        check_same_run(cfg, run_dir)
    try:
        dataset = read_dataset(cfg.dataset)
    except DatasetError:  # not there yet: downloaded first
        if not cfg.dataset.get("download"):
            raise
        return [*lines, f"data: {cfg.dataset.name} is downloaded into {cfg.dataset.root} first; its size, "
                "and so the iterations, are known once it is there"]  # fmt: skip
    splits = split_dataset(
        dataset,
        fraction=float(cfg.dataset.heldout_fraction),
        minimum=int(cfg.dataset.heldout_minimum),
        seed=int(cfg.dataset.heldout_seed),
    )
    steps = checked_batches_per_epoch(splits.train, int(cfg.train.batch_size))
    epochs = int(cfg.train.epochs)
    train_source = stage_source(cfg, "train", device, bool(state and state.train_complete))
    return [
        *lines,
        f"data: {cfg.dataset.name}, {len(dataset):,} images ({len(splits.train):,} to train on, "
        f"{len(splits.heldout):,} held out)",
        f"train: {counted(epochs, 'epoch')} x {counted(steps, 'iteration')} = "
        f"{counted(epochs * steps, 'iteration')}; {train_source}",
        probe_line(cfg, device, state, snapshot_iterations(cfg.train, steps)),
        *updates_lines(cfg, device, state, snapshot_iterations(cfg.train, steps)),
    ]


def updates_lines(
    cfg: DictConfig, device: torch.device, state: RunState | None, snapshots: list[int]
) -> list[str]:
    """experiment=updates: per snapshot each critic of updates.critics retrained to its last D stage, and at
    each stage a G copy per cost taking max(k) steps; where its results would come from. None without
    updates."""
    if cfg.get("updates") is None:
        return []
    steps = max(int(k) for k in cfg.updates.steps)
    parts, d_iterations, arms = [], 0, 0
    for critic in updates_critics(cfg.updates, cfg.critic):
        stages, costs = critic_stages(cfg.updates, cfg.probe, critic), step_costs(cfg.updates, critic)
        parts.append(
            f"{critic.name}: D trained {counted(stages[-1], 'iteration')}; "
            f"{counted(len(stages), 'D stage')} x {counted(len(costs), 'cost')} x {counted(steps, 'G step')}"
        )
        d_iterations, arms = d_iterations + stages[-1], arms + len(stages) * len(costs)
    source = stage_source(cfg, "updates", device, bool(state and state.updates_complete))
    return [
        f"updates: {counted(len(snapshots), 'snapshot')} x ({'; '.join(parts)}) = "
        f"{counted(len(snapshots) * d_iterations, 'D iteration')} and "
        f"{counted(len(snapshots) * arms * steps, 'G step')}; {source}"
    ]


def probe_line(cfg: DictConfig, device: torch.device, state: RunState | None, snapshots: list[int]) -> str:
    """The probe's units and iterations (snapshots: their G steps), and where its results would come from."""
    probed = [(steps, 0.0) for steps in snapshots] + ([(CONTROL_SNAPSHOT, 0.0)] if cfg.probe.control else [])
    units = probe_units(cfg.probe, cfg.noise, cfg.critic, probed)
    critics = probe_critics(cfg.critic)
    lengths = {critic.name: probe_length(cfg.probe, critic) for critic in critics}
    parts = [counted(len(snapshots), "snapshot") + (" and the negative control" if cfg.probe.control else "")]
    if cfg.probe.get("noise_stds") is not None:
        parts.append(counted(len(probe_noises(cfg.probe, cfg.noise)), "noise level"))
    if len(set(lengths.values())) == 1:  # one length for every critic
        parts += [counted(len(critics), "critic"), counted(next(iter(lengths.values())), "iteration")]
    else:  # a critic with its own critic.<name>.iterations
        own = ", ".join(f"{name} {length:,}" for name, length in lengths.items())
        parts.append(f"{counted(len(critics), 'critic')} (iterations: {own})")
    source = stage_source(cfg, "probe", device, bool(state and state.probe_complete))
    done = sum(state.unit_done(unit.key) for unit in units) if state is not None else 0
    if done and source.startswith("computed"):
        source += f" ({done} of {len(units)} probes done in this run folder already)"
    total = sum(unit.iterations for unit in units)
    return f"probe: {' x '.join(parts)} = {counted(total, 'iteration')}; {source}"


def counted(number: int, noun: str) -> str:
    """'1 critic', '2 critics', '4,000 iterations'."""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
