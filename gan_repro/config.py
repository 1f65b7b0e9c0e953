"""Checking a composed config before any work starts, and resolving `device: auto`."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan_repro.data import check_dataset_config
from gan_repro.errors import ConfigError
from gan_repro.plot import FIGURES
from gan_repro.losses import GENERATOR_LOSSES
from gan_repro.models import check_model_config
from gan_repro.noise import check_noise_config

CONFIG_DIR_CANDIDATES = (
    Path(__file__).resolve().parent / "conf",         # installed wheel: conf/ ships as gan_repro/conf
    Path(__file__).resolve().parent.parent / "conf",  # source checkout or editable install
)


def config_dir() -> Path:
    """The folder holding config.yaml, for an installed wheel as for a source checkout."""
    for candidate in CONFIG_DIR_CANDIDATES:
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"gan-repro's conf/ not found in {[str(c) for c in CONFIG_DIR_CANDIDATES]}")


def read(cfg: DictConfig, key: str):
    """cfg's value at a dotted key, with a missing (???) or absent value reported as a ConfigError."""
    try:
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
    except Exception as error:  # MissingMandatoryValue, InterpolationResolutionError
        raise ConfigError(key, f"is required and cannot be read ({str(error).splitlines()[0]}); "
                          f"set it, e.g. {key}=...") from None
    return value


def whole_number(cfg: DictConfig, key: str, *, minimum: int = 1) -> int:
    """The value at key as an int >= minimum (not a bool, not a float), or a ConfigError naming the key."""
    value = read(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def positive_float(cfg: DictConfig, key: str, *, upper: float = math.inf) -> float:
    """The value at key as a finite float in (0, upper), or a ConfigError naming the key."""
    value = read(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < upper):
        bound = f" and < {upper}" if upper != math.inf else ""
        raise ConfigError(key, f"must be a number > 0{bound}, got {value!r}")
    return float(value)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda if available, else cpu; a named device must exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError("device", f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError("device", f"{name} is not available on this machine; use device=auto or device=cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device", "mps is not available on this machine; use device=auto or device=cpu")
    return device


def check_performance_config(cfg: DictConfig) -> None:
    """The performance node's keys: switches, the autocast and compile modes, the log buffer."""
    for key in ("performance.channels_last", "performance.cudnn_benchmark", "performance.compile"):
        if not isinstance(read(cfg, key), bool):
            raise ConfigError(key, f"must be true or false, got {read(cfg, key)!r}")
    if read(cfg, "performance.autocast") not in ("none", "bf16"):
        raise ConfigError("performance.autocast", f"must be none or bf16 (the probe always runs in fp32), "
                          f"got {cfg.performance.autocast!r}")
    if read(cfg, "performance.compile_mode") not in ("default", "reduce-overhead", "max-autotune"):
        raise ConfigError("performance.compile_mode", "must be default, reduce-overhead (CUDA graphs) or "
                          f"max-autotune, got {cfg.performance.compile_mode!r}")
    if read(cfg, "performance.data_on_device") not in ("auto", False):
        raise ConfigError("performance.data_on_device", f"must be auto or false, got {cfg.performance.data_on_device!r}")
    whole_number(cfg, "performance.log_buffer")


def check_config(cfg: DictConfig) -> torch.device:
    """Every setting a run needs, checked before any training; returns the device to use."""
    if not isinstance(read(cfg, "seed"), int) or isinstance(cfg.seed, bool):
        raise ConfigError("seed", f"must be a whole number, got {cfg.seed!r}")
    check_dataset_config(cfg.dataset)
    image_size = whole_number(cfg, "dataset.image_size")
    check_model_config(cfg.model, image_size)
    if read(cfg, "loss.name") not in GENERATOR_LOSSES:
        raise ConfigError("loss", f"unknown generator loss '{cfg.loss.name}'; choose {' or '.join(GENERATOR_LOSSES)}")

    epochs = whole_number(cfg, "train.epochs")
    check_noise_config(cfg.noise)
    noise_stds = read(cfg, "probe.noise_stds")
    if noise_stds is not None:
        if not OmegaConf.is_list(noise_stds) or not noise_stds or any(
                isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0
                for s in noise_stds):
            raise ConfigError("probe.noise_stds", f"must be a list of finite sigmas >= 0 like [0,0.1], or null; "
                              f"got {noise_stds!r}")
        if len(set(noise_stds)) != len(noise_stds):
            raise ConfigError("probe.noise_stds", f"has repeated sigmas: {list(noise_stds)}")
    for key in ("train.batch_size", "train.log_every", "train.sample_count", "probe.iterations",
                "probe.log_every", "probe.batch_size", "plot.window", "distance.samples", "distance.projections",
                "distance.exact_samples"):
        whole_number(cfg, key)
    whole_number(cfg, "train.num_workers", minimum=0)
    for key in ("train.lr", "probe.lr"):
        positive_float(cfg, key)
    for key in ("train.beta1", "train.beta2", "probe.beta1", "probe.beta2"):
        value = read(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(key, f"must be a number in [0, 1), got {value!r}")

    snapshots = read(cfg, "train.snapshot_epochs")
    if not OmegaConf.is_list(snapshots) or len(snapshots) == 0:
        raise ConfigError("train.snapshot_epochs", f"must be a non-empty list like [1,10,25], got {snapshots!r}")
    for epoch in snapshots:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= epochs:
            raise ConfigError("train.snapshot_epochs", f"{epoch!r} is outside 1..train.epochs={epochs}; "
                              f"use epochs between 1 and {epochs}")
    if len(set(snapshots)) != len(snapshots):
        raise ConfigError("train.snapshot_epochs", f"has repeated epochs: {list(snapshots)}")

    if read(cfg, "probe.dtype") not in ("float32", "float64"):
        raise ConfigError("probe.dtype", f"must be float32 or float64 (never lower: values reach 1e-12), "
                          f"got {cfg.probe.dtype!r}")
    if read(cfg, "on_nonfinite") not in ("stop", "warn"):
        raise ConfigError("on_nonfinite", f"must be stop or warn, got {cfg.on_nonfinite!r}")
    if cfg.dataset.get("bad_images", "stop") not in ("stop", "skip"):
        raise ConfigError("dataset.bad_images", f"must be stop or skip, got {cfg.dataset.bad_images!r}")
    whole_number(cfg, "train.checkpoint_every", minimum=0)
    for key in ("quiet", "debug", "resume"):
        if not isinstance(read(cfg, key), bool):
            raise ConfigError(key, f"must be true or false, got {read(cfg, key)!r}")
    if read(cfg, "probe.batched_backward") not in ("auto", True, False):
        raise ConfigError("probe.batched_backward", f"must be auto, true or false, got {cfg.probe.batched_backward!r}")
    check_performance_config(cfg)
    figures = read(cfg, "plot.figures")
    if not OmegaConf.is_list(figures) or not figures or any(f not in FIGURES for f in figures):
        raise ConfigError("plot.figures", f"must be a list drawn from {', '.join(FIGURES)}, got {figures!r}")
    formats = read(cfg, "plot.formats")
    if not OmegaConf.is_list(formats) or not formats or any(f not in ("png", "pdf", "svg") for f in formats):
        raise ConfigError("plot.formats", f"must be a list drawn from png, pdf, svg, got {formats!r}")
    return resolve_device(str(read(cfg, "device")))
