"""What several test files share and is not a fixture: the tiny setting, composed configs, datasets built from
them, the command line in a fresh process, and writers of small data files in each format."""

from __future__ import annotations

import csv
import gzip
import io
import os
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import Dataset

from gan_repro.columns import FILES, columns_of
from gan_repro.config import check_dataset, compose
from gan_repro.prepare import build_dataset
from gan_repro.runstate import STATE_NAME, RunState

REPO = Path(__file__).resolve().parent.parent

# Every stage in a few seconds on a CPU: 16x16 digits, narrow nets, 2 epochs, a short probe.
TINY = [
    "dataset=digits",  # not the default photos: 1797 small images, nothing to cut
    "dataset.image_size=16",
    "model.ngf=8",
    "model.ndf=8",
    "train.batch_size=64",
    "train.epochs=2",
    "train.snapshot_epochs=[1,2]",
    "train.sample_count=16",
    "probe.iterations=12",
    "probe.log_every=3",
    "plot.window=3",
    "quiet=true",
    "device=cpu",
    "distance.samples=200",
    "distance.exact_samples=64",
    "cache=false",  # each test computes what it checks; the cache has its own tests
]


# ----------------------------------------------------------------------------- configs and datasets
def compose_config(overrides: Sequence[str] | None = None) -> DictConfig:
    """The config `gan-repro` would run with these command-line overrides."""
    return compose(list(overrides or []))


def load_dataset(node: DictConfig) -> Dataset:
    """The dataset a run would use for this `dataset` node: checked first (a ConfigError naming the setting),
    then built."""
    check_dataset(node)
    return build_dataset(node)


# ----------------------------------------------------------------------------- run folders
def undeclared_columns(run_dir: Path) -> dict[str, list[str]]:
    """{file: its header} for each CSV of a run folder whose header is not the one gan_repro/columns.py
    declares for it (or that columns.py does not declare at all); {} when every CSV is declared."""
    found = {}
    for path in sorted(Path(run_dir).glob("*.csv")):
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if path.name not in FILES or header != columns_of(path.name):
            found[path.name] = header
    return found


# ----------------------------------------------------------------------------- the command line
def cli_env(env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh `python` process: this checkout importable, output unbuffered, Hydra's
    full-traceback switch off (as for a user who never set it), then env_extra on top."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    env.update(env_extra or {})
    return env


def cli_command(*arguments: str, module: str = "gan_repro.cli") -> list[str]:
    """`python -m module ARGUMENTS` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def run_cli(
    *arguments: str,
    cwd: Path,
    module: str = "gan_repro.cli",
    env_extra: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run `python -m module ARGUMENTS` in a fresh process, as a user would; its output captured as text."""
    return subprocess.run(
        cli_command(*arguments, module=module),
        cwd=cwd,
        env=cli_env(env_extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(
    *arguments: str, cwd: Path, module: str = "gan_repro.cli", env_extra: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """run_cli's command started and left running (to be killed, signalled or waited for); stdout and stderr
    are pipes read as text."""
    return subprocess.Popen(
        cli_command(*arguments, module=module),
        cwd=cwd,
        env=cli_env(env_extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_script(
    script: Path, *arguments: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `python SCRIPT ARGUMENTS` (one of scripts/) in run_cli's environment; its output captured as
    text."""
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ----------------------------------------------------------------------------- data files
def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: two zero bytes, type 0x08 (ubyte), ndim, big-endian int32 dims, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    """array as an IDX file at path (path + .gz, gzipped, with gz); returns the path written."""
    data = idx_bytes(array)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def write_images(
    folder: Path, sizes: Sequence[tuple[int, int]], mode: str = "RGB", suffix: str = ".png"
) -> None:
    """One random image per (width, height) in sizes, named 000{suffix}, 001{suffix}, ... in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    for index, (width, height) in enumerate(sizes):
        shape = (height, width, 3) if mode == "RGB" else (height, width)
        pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
        Image.fromarray(pixels, mode=mode).save(folder / f"{index:03d}{suffix}")


def write_lmdb(path: Path, formats: Sequence[str]) -> Path:
    """An LSUN-style LMDB at path: one random RGB image per entry of formats (a PIL format name: WEBP, JPEG,
    PNG, ...), the i-th (24 + i) x 30 pixels, under 40-hex-digit keys as in the LSUN release. Skips the test
    where lmdb is not installed."""
    lmdb = pytest.importorskip("lmdb")
    rng = np.random.default_rng(3)
    with lmdb.open(str(path), map_size=1 << 24) as env, env.begin(write=True) as txn:
        for index, fmt in enumerate(formats):
            buffer = io.BytesIO()
            pixels = rng.integers(0, 256, size=(24 + index, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(buffer, format=fmt)
            txn.put(f"{index:040x}".encode(), buffer.getvalue())
    return path


def mark_finished(folder: Path) -> Path:
    """Give a run folder written by hand the state.json a finished run leaves (this gan-repro's format)."""
    RunState(path=folder / STATE_NAME, status="done", train_complete=True, probe_complete=True).save()
    return folder
