"""Lab 6: Lemma 1 on the real model. The Jacobian dG(z)/dz of a trained DCGAN snapshot is a
(channels * size^2) x nz matrix, so near any z the generated images span at most nz of the image space's
channels * size^2 directions: P_g lives on a set of dimension <= nz, of measure 0. Its singular values,
in float64, show how many of those nz directions G actually uses (the numerical rank) and how unevenly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_repro.checkpoints import checkpoint_path, load_generator
from gan_repro.config import Rule, whole
from gan_repro.errors import CheckpointRefused, ConfigError
from gan_repro.files import write_csv
from gan_repro.pipeline import train_stage
from gan_repro.prepare import build_dataset
from gan_repro.report import snapshot_files, snapshot_of
from gan_repro.steps import sample_z

SETTINGS: dict[str, Rule] = {  # lab.<key>; the model, dataset and training settings are the run's own
    "run_dir": Rule(lambda v: v is None or isinstance(v, str), "a gan-repro run folder, or null"),
    "train_epochs": whole(),
    "points": whole(),
}

log = logging.getLogger(__name__)
CPU = torch.device("cpu")  # the spectra are float64 SVDs on the CPU, whatever the run's device


Snapshots = tuple[dict[int, Path], DictConfig]  # {G steps: checkpoint}, and the config G was trained with


def trained_here(cfg: DictConfig, run_dir: Path, *, device: torch.device) -> Snapshots:
    """A DCGAN trained into run_dir for lab.train_epochs, with snapshots after epoch 1 and the last."""
    epochs = int(cfg.lab.train_epochs)
    train_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(train_cfg):
        train_cfg.train.epochs = epochs
        train_cfg.train.snapshot_epochs, train_cfg.train.snapshot_iterations = sorted({1, epochs}), []
    log.info(
        "lab: training a DCGAN for %d epochs to take its Jacobians (lab.run_dir=RUN uses a run's snapshots)",
        epochs,
    )
    dataset = build_dataset(train_cfg.dataset)  # the dataset node was checked with the whole config
    iterations = train_stage(train_cfg, dataset=dataset, run_dir=run_dir, device=device)
    return {iteration: checkpoint_path(run_dir, iteration) for iteration in iterations}, train_cfg


def snapshots(cfg: DictConfig, run_dir: Path, *, device: torch.device) -> Snapshots:
    """lab.run_dir's snapshots (with its config.yaml when it has one), or a short DCGAN's trained here."""
    source = cfg.lab.get("run_dir")
    if not source:
        return trained_here(cfg, run_dir, device=device)
    paths = snapshot_files(checkpoint_path(Path(source), 0).parent, ".pt")
    if not paths:
        raise ConfigError(
            "lab.run_dir", f"no checkpoints/iteration_*.pt in {source}; give a gan-repro run folder"
        )
    saved = Path(source) / "config.yaml"
    trained_cfg = OmegaConf.load(saved) if saved.is_file() else cfg
    return {snapshot_of(path): path for path in paths}, trained_cfg


def load_snapshot(path: Path, trained_cfg: DictConfig) -> torch.nn.Module:
    """G of a snapshot in float64 on the CPU, eval mode (BatchNorm's running statistics, one z at a time)."""
    try:
        generator = load_generator(path, trained_cfg.model, trained_cfg.dataset, device=CPU)
    except CheckpointRefused as error:  # torn, foreign or mismatched: the folder given is to blame
        raise CheckpointRefused("lab.run_dir", error.message) from None
    return generator.double().eval()


def jacobian_spectrum(generator: torch.nn.Module, z: torch.Tensor) -> np.ndarray:
    """Singular values (descending, float64) of d vec(G(z)) / dz at one z (nz,): shape (nz,)."""

    def flat(point: torch.Tensor) -> torch.Tensor:
        return generator(point[None]).flatten()  # (channels * size^2,)

    jacobian = torch.autograd.functional.jacobian(flat, z, vectorize=True)  # (channels * size^2, nz)
    return torch.linalg.svdvals(jacobian).numpy()


def numerical_rank(values: np.ndarray, output_dimension: int, nz: int) -> int:
    """Singular values above numpy's matrix_rank tolerance: largest * max(shape) * float64 eps."""
    return int((values > values[0] * max(output_dimension, nz) * np.finfo(np.float64).eps).sum())


def snapshot_spectra(
    generator: torch.nn.Module, z: torch.Tensor, snapshot: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """jacobian.csv's rows for one snapshot at every latent point z (points, nz), and its summary entry."""
    nz, rows, ranks = z.shape[1], [], []
    for index, z_point in enumerate(z):
        values = jacobian_spectrum(generator, z_point)
        output_dimension = generator(z_point[None]).numel()
        ranks.append(numerical_rank(values, output_dimension, nz))
        rows += [
            {
                "snapshot_iteration": snapshot,
                "point": index,
                "index": k + 1,
                "singular_value": float(v),
                "nz": nz,
                "output_dimension": output_dimension,
            }
            for k, v in enumerate(values)
        ]
    by_index = pd.DataFrame(rows).groupby("index")["singular_value"].median().to_numpy()
    energy = np.cumsum(by_index**2) / np.sum(by_index**2)
    return rows, {
        "output_dimension": output_dimension,
        "nz": nz,
        "ranks": ranks,
        "largest": float(by_index[0]),
        "smallest": float(by_index[-1]),
        "half_energy_directions": int(np.searchsorted(energy, 0.5) + 1),
    }


def claims(summary: dict[str, dict[str, Any]], nz: int) -> list[dict[str, Any]]:
    """Lemma 1: every measured rank is at most nz, and nz is below the image space's dimension."""
    most = max(max(entry["ranks"]) for entry in summary.values())
    dimension = min(entry["output_dimension"] for entry in summary.values())
    ranks = sorted({rank for entry in summary.values() for rank in entry["ranks"]})
    return [
        {
            "claim": "near every z, G's image is a manifold of dimension rank(dG/dz) <= nz, far below the "
            "image space's dimension, so P_g has measure 0 there (Lemma 1); rank <= nz holds by "
            "construction (dG/dz has nz columns), the measured rank says how many of them G uses",
            "measured": f"ranks {ranks} of nz = {nz}, image dimension {dimension}",
            "holds": bool(most <= nz < dimension),
        }
    ]


def run(cfg: DictConfig, *, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """Spectra at lab.points latent points for every snapshot; writes jacobian.csv."""
    checkpoints, trained_cfg = snapshots(cfg, run_dir, device=device)
    rows, summary = [], {}
    for snapshot, path in sorted(checkpoints.items()):
        generator = load_snapshot(path, trained_cfg)
        nz = generator.nz if hasattr(generator, "nz") else int(trained_cfg.model.nz)
        z = sample_z(
            int(cfg.lab.points),
            nz,
            device=CPU,
            dtype=torch.float64,
            rng=torch.Generator().manual_seed(int(cfg.seed)),
        )
        spectra, summary[str(snapshot)] = snapshot_spectra(generator, z, snapshot)
        rows += spectra
        entry = summary[str(snapshot)]
        log.info(
            "lab: snapshot after %d G steps: rank %s of at most %d (image space %d); "
            "median singular values %.3g .. %.3g",
            snapshot,
            entry["ranks"],
            nz,
            entry["output_dimension"],
            entry["largest"],
            entry["smallest"],
        )
    write_csv(run_dir / "jacobian.csv", pd.DataFrame(rows))
    return {"snapshots": summary, "claims": claims(summary, nz)}
