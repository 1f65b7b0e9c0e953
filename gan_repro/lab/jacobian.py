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

from gan_repro.data import build_dataset
from gan_repro.errors import ConfigError
from gan_repro.lab.common import positive_int
from gan_repro.models import build_generator
from gan_repro.train import train

log = logging.getLogger(__name__)


def snapshot_generators(cfg: DictConfig, run_dir: Path, *, device: torch.device) -> dict[int, Path]:
    """{epoch: checkpoint} of lab.run_dir's snapshots, or of a short DCGAN trained here (lab.train_epochs)."""
    source = cfg.lab.get("run_dir")
    if source:
        paths = sorted(Path(source).glob("checkpoints/epoch_*.pt"))
        if not paths:
            raise ConfigError("lab.run_dir", f"no checkpoints/epoch_*.pt in {source}; give a gan-repro run folder")
        return {int(path.stem.split("_")[1]): path for path in paths}
    epochs = positive_int(cfg.lab, "train_epochs", "lab")
    train_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(train_cfg):
        train_cfg.train.epochs = epochs
        train_cfg.train.snapshot_epochs = sorted({1, epochs})
    log.info("lab: training a DCGAN for %d epochs to take its Jacobians (lab.run_dir=RUN uses a run's snapshots)",
             epochs)
    return train(train_cfg, dataset=build_dataset(train_cfg.dataset), run_dir=run_dir, device=device)


def load_snapshot(path: Path) -> torch.nn.Module:
    """G of a snapshot, built from the architecture the checkpoint records (weights only, nothing executed)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        signature = state["signature"]
        generator = build_generator(OmegaConf.create(signature["model"]), image_size=int(signature["image_size"]),
                                    channels=int(signature["channels"]))
        generator.load_state_dict(state["generator"])
    except ConfigError:
        raise
    except Exception as error:  # torn, foreign or malicious
        raise ConfigError("lab.run_dir", f"cannot load a generator from {path}: {error.__class__.__name__}: {error}") from None
    return generator


def jacobian_spectrum(generator: torch.nn.Module, z: torch.Tensor) -> np.ndarray:
    """Singular values (descending, float64) of d vec(G(z)) / dz at one z (nz,): shape (nz,)."""
    def flat(latent: torch.Tensor) -> torch.Tensor:
        return generator(latent[None]).flatten()  # (channels * size^2,)
    jacobian = torch.autograd.functional.jacobian(flat, z, vectorize=True)  # (channels * size^2, nz)
    return torch.linalg.svdvals(jacobian).numpy()


def run(cfg: DictConfig, *, run_dir: Path, seed: int, device: torch.device) -> dict[str, Any]:
    """Spectra at lab.points latent points for every snapshot; writes jacobian.csv."""
    checkpoints = snapshot_generators(cfg, run_dir, device=device)
    points = positive_int(cfg.lab, "points", "lab")
    rows, summary = [], {}
    for epoch, path in sorted(checkpoints.items()):
        generator = load_snapshot(path).double().eval()  # eval: BatchNorm's running statistics, one z at a time
        nz = generator.nz if hasattr(generator, "nz") else int(cfg.model.nz)
        latents = torch.randn(points, nz, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        ranks = []
        for index, z in enumerate(latents):
            values = jacobian_spectrum(generator, z)
            output_dimension = generator(z[None]).numel()
            tolerance = values[0] * max(output_dimension, nz) * np.finfo(np.float64).eps  # numpy's matrix_rank rule
            ranks.append(int((values > tolerance).sum()))
            rows += [{"snapshot_epoch": epoch, "point": index, "index": k + 1, "singular_value": float(v),
                      "nz": nz, "output_dimension": output_dimension} for k, v in enumerate(values)]
        spectra = pd.DataFrame([row for row in rows if row["snapshot_epoch"] == epoch])
        by_index = spectra.groupby("index")["singular_value"].median()
        summary[str(epoch)] = {"output_dimension": output_dimension, "nz": nz, "ranks": ranks,
                               "largest": float(by_index.iloc[0]), "smallest": float(by_index.iloc[-1]),
                               "half_energy_directions": int(np.searchsorted(
                                   np.cumsum(by_index.to_numpy() ** 2) / np.sum(by_index.to_numpy() ** 2), 0.5) + 1)}
        log.info("lab: snapshot %d: rank %s of at most %d (image space %d); median singular values %.3g .. %.3g",
                 epoch, ranks, nz, output_dimension, summary[str(epoch)]["largest"], summary[str(epoch)]["smallest"])
    pd.DataFrame(rows).to_csv(run_dir / "jacobian.csv", index=False)
    most = max(max(entry["ranks"]) for entry in summary.values())
    dimension = min(entry["output_dimension"] for entry in summary.values())
    return {"snapshots": summary, "claims": [
        {"claim": "near every z, G's image is a manifold of dimension rank(dG/dz) <= nz, far below the image "
                  "space's dimension, so P_g has measure 0 there (Lemma 1); rank <= nz holds by construction "
                  "(dG/dz has nz columns), the measured rank says how many of them G uses",
         "measured": f"ranks {sorted({r for entry in summary.values() for r in entry['ranks']})} of nz = {nz}, "
                     f"image dimension {dimension}",
         "holds": bool(most <= nz < dimension)}]}
