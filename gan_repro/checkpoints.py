"""Checkpoints: where they live in a run folder, what their weights depend on, and the one loader that
checks it. Loaded as weights only (nothing in the file is executed), refused unless the signature matches."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf

from gan_repro.errors import CheckpointRefused, ConfigError
from gan_repro.files import save_torch
from gan_repro.models import build_generator
from gan_repro.snapshot_names import snapshot_file

REFUSED = "not a gan-repro checkpoint, or unsafe to load: refused"  # never torch's weights_only advice


def model_signature(model_cfg: DictConfig, dataset_cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint's weights depend on: the model node, the image size and channels."""
    return {
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "image_size": int(dataset_cfg.image_size),
        "channels": int(dataset_cfg.channels),
    }


@dataclass(frozen=True)
class Snapshot:
    """A frozen G: saved after `iteration` G steps; `epoch` = iteration / steps per epoch (11.1: inside
    epoch 12)."""

    iteration: int  # the snapshot's identity in every file (probe.csv's snapshot_iteration, summary keys)
    epoch: float
    path: Path


def snapshot_iterations(train_cfg: DictConfig, steps_per_epoch: int) -> list[int]:
    """The G steps after which G is snapshotted: each of train.snapshot_epochs' last step and each of
    train.snapshot_iterations, sorted; a ConfigError for one beyond the last training step or given twice
    (as an epoch and as its G steps)."""
    total = int(train_cfg.epochs) * steps_per_epoch
    by_epoch = [int(epoch) * steps_per_epoch for epoch in train_cfg.snapshot_epochs or []]
    by_step = [int(iteration) for iteration in train_cfg.get("snapshot_iterations") or []]
    for iteration in by_step:
        if iteration > total:
            raise ConfigError(
                "train.snapshot_iterations",
                f"{iteration} is beyond the last G step, {total} (train.epochs={train_cfg.epochs} of "
                f"{steps_per_epoch} steps); use steps between 1 and {total}, or raise train.epochs",
            )
        if iteration in by_epoch:
            raise ConfigError(
                "train.snapshot_iterations",
                f"{iteration} is the end of epoch {iteration // steps_per_epoch}, already in "
                "train.snapshot_epochs; list each snapshot once",
            )
    return sorted([*by_epoch, *by_step])


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    """Where the snapshot after `iteration` G steps lives."""
    return Path(run_dir) / "checkpoints" / snapshot_file(iteration, ".pt")


def samples_path(run_dir: Path, iteration: int) -> Path:
    """Where the sample grid of the snapshot after `iteration` G steps lives."""
    return Path(run_dir) / "samples" / snapshot_file(iteration, ".png")


def last_state_path(run_dir: Path) -> Path:
    """The newest resumable training state (every epoch end, every checkpoint_every iterations, on a stop)."""
    return Path(run_dir) / "checkpoints" / "last.pt"


def snapshots(train_cfg: DictConfig, steps_per_epoch: int, run_dir: Path) -> list[Snapshot]:
    """The snapshots a finished training stage saved, in order."""
    return [
        Snapshot(iteration, iteration / steps_per_epoch, checkpoint_path(run_dir, iteration))
        for iteration in snapshot_iterations(train_cfg, steps_per_epoch)
    ]


def save_checkpoint(path: Path, state: dict[str, Any], signature: dict[str, Any]) -> Path:
    """Atomically save state (tensors and plain values) with the signature it will be checked against."""
    return save_torch(path, {**state, "signature": signature})


def load_checkpoint(
    path: Path,
    signature: dict[str, Any],
    *,
    setting: str,
    needs: tuple[str, ...] = (),
    advice: str = "use the run's own config",
) -> dict[str, Any]:
    """A checkpoint's dict on the CPU (load_state_dict moves weights to their module's device; RNG states must
    stay CPU tensors), loaded as weights only, holding `needs` and saved for `signature`; anything else is
    refused with a CheckpointRefused naming `setting` and ending in `advice`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused what the file asks to build: foreign or malicious
        raise CheckpointRefused(setting, f"{path}: {REFUSED}") from None
    except Exception as error:  # a torn or foreign file; torch's text can run over many lines
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise CheckpointRefused(setting, f"cannot load {path}: {error.__class__.__name__}: {first}") from None
    if not isinstance(state, dict) or any(key not in state for key in needs):
        raise CheckpointRefused(
            setting, f"{path} is not a gan-repro checkpoint (no {' or '.join(needs) or 'dict'} entry)"
        )
    if state.get("signature") != signature:
        raise CheckpointRefused(
            setting,
            f"{path} was saved for {state.get('signature')}, but this run's config is {signature}; {advice}",
        )
    return state


def load_generator(
    path: Path, model_cfg: DictConfig, dataset_cfg: DictConfig, *, device: torch.device
) -> nn.Module:
    """A snapshot's G, built from the model node and loaded after its signature is checked."""
    state = load_checkpoint(
        path,
        model_signature(model_cfg, dataset_cfg),
        setting="checkpoint",
        needs=("generator",),
    )
    generator = build_generator(
        model_cfg, image_size=int(dataset_cfg.image_size), channels=int(dataset_cfg.channels)
    ).to(device)
    generator.load_state_dict(state["generator"])
    return generator


def load_generator_state(path: Path, model_cfg: DictConfig, dataset_cfg: DictConfig) -> dict[str, Any]:
    """A snapshot's G weights and G's Adam state as training left them (moments and step count), checked
    against the model node: what continuing G's training from the snapshot needs."""
    return load_checkpoint(
        path,
        model_signature(model_cfg, dataset_cfg),
        setting="checkpoint",
        needs=("generator", "optimizer_g"),
    )
