"""Checkpoints: where they live in a run folder, what their weights depend on, and the one loader that
checks it. Loaded as weights only (nothing in the file is executed), refused unless the signature matches."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf

from gan_repro.errors import ConfigError
from gan_repro.files import save_torch
from gan_repro.models import build_generator

REFUSED = "not a gan-repro checkpoint, or unsafe to load: refused"  # never torch's weights_only advice


def model_signature(model_cfg: DictConfig, dataset_cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint's weights depend on: the model node, the image size and channels."""
    return {
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "image_size": int(dataset_cfg.image_size),
        "channels": int(dataset_cfg.channels),
    }


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    """Where the snapshot after `epoch` lives."""
    return Path(run_dir) / "checkpoints" / f"epoch_{epoch:03d}.pt"


def last_state_path(run_dir: Path) -> Path:
    """The newest resumable training state (every epoch end, every checkpoint_every iterations, on a stop)."""
    return Path(run_dir) / "checkpoints" / "last.pt"


def snapshot_paths(snapshot_epochs: list[int], run_dir: Path) -> dict[int, Path]:
    """{snapshot epoch: checkpoint path} for a finished training stage."""
    return {int(epoch): checkpoint_path(run_dir, int(epoch)) for epoch in sorted(snapshot_epochs)}


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
    refused with a ConfigError naming `setting` and ending in `advice`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused what the file asks to build: foreign or malicious
        raise ConfigError(setting, f"{path}: {REFUSED}") from None
    except Exception as error:  # a torn or foreign file; torch's text can run over many lines
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise ConfigError(setting, f"cannot load {path}: {error.__class__.__name__}: {first}") from None
    if not isinstance(state, dict) or any(key not in state for key in needs):
        raise ConfigError(
            setting, f"{path} is not a gan-repro checkpoint (no {' or '.join(needs) or 'dict'} entry)"
        )
    if state.get("signature") != signature:
        raise ConfigError(
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
