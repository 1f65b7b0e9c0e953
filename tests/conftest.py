"""Shared fixtures: configs composed through Hydra's compose API, and a tiny setting that runs in seconds."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from gan_repro.config import config_dir

# Every stage in a few seconds on a CPU: 16x16 digits, narrow nets, 2 epochs, a short probe.
TINY = [
    "dataset.image_size=16", "model.ngf=8", "model.ndf=8", "train.batch_size=64", "train.epochs=2",
    "train.snapshot_epochs=[1,2]", "train.sample_count=16", "probe.iterations=12", "probe.log_every=3",
    "plot.window=3", "quiet=true", "device=cpu", "distance.samples=200", "distance.exact_samples=64",
    "cache=false",  # each test computes what it checks; the cache has its own tests
]


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The config `gan-repro` would run with these command-line overrides."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides or []))


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory) -> Path:
    """Every test's cache_dir (prepared datasets, ...) lives in a temporary folder, never in ~/.cache."""
    import os

    path = tmp_path_factory.mktemp("cache")
    os.environ["GAN_REPRO_CACHE"] = str(path)
    return path


@pytest.fixture
def tiny_config() -> DictConfig:
    """The default config shrunk to run all stages in seconds."""
    return compose_config(TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[DictConfig, Path, dict]:
    """One finished tiny run (config, folder, summary), shared by the tests that only read it."""
    from gan_repro.cli import run

    cfg = compose_config(TINY)
    run_dir = tmp_path_factory.mktemp("tiny_run")
    return cfg, run_dir, run(cfg, run_dir)


REPO = Path(__file__).resolve().parent.parent
