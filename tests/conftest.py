"""Shared fixtures: a private cache folder, and the tiny setting composed (and run once) through Hydra's
compose API. Helpers that are not fixtures live in tests/helpers.py: `from tests.helpers import ...`."""

from __future__ import annotations

import os

# pytest -n 2 (pyproject's addopts): two workers share the cores, so each one, and every command it starts,
# computes on one thread; set before torch is imported. The numbers a test compares come from one worker.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from tests.helpers import TINY, compose_config  # noqa: E402

if "PYTEST_XDIST_WORKER" in os.environ:
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory) -> Path:
    """Every test's cache_dir (prepared datasets, ...) lives in a temporary folder, never in ~/.cache."""
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
    from gan_repro.pipeline import run

    cfg = compose_config(TINY)
    run_dir = tmp_path_factory.mktemp("tiny_run")
    return cfg, run_dir, run(cfg, run_dir)
