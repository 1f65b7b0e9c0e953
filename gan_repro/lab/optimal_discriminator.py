"""Lab 1: the optimal discriminator (Eq. 2) and the value of the game.

For Gaussian mixtures P_r and P_g with known densities, train an MLP discriminator on samples and compare
    D(x)  with  D*(x) = P_r(x) / (P_r(x) + P_g(x))                       (max and mean absolute error)
    -2 d_loss = E_r log D + E_g log(1 - D)  with  2 JSD(P_r||P_g) - 2 log 2   (quadrature)
At P_g = P_r the value is -log 4.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from gan_repro.config import Rule, number, whole
from gan_repro.files import write_csv
from gan_repro.lab.common import LOG_2, WIDTHS, Logit, Mixture, gauss_legendre, jsd_from_log_densities, mlp
from gan_repro.steps import discriminator_step

SETTINGS: dict[str, Rule] = {  # lab.<key>; each problem's mixtures are checked when they are read
    "problems": Rule(
        lambda v: (
            OmegaConf.is_dict(v)
            and len(v) > 0
            and all(OmegaConf.is_dict(p) and "real" in p and "fake" in p for p in v.values())
        ),
        "a non-empty mapping of problems, each with real and fake mixtures",
    ),
    "hidden": WIDTHS,
    "steps": whole(),
    "batch_size": whole(),
    "lr": number(),
    "quadrature_nodes": whole(),
    "region_fraction": number(high=1.0, high_inclusive=True),
    "eval_samples": whole(),
    "tolerance.mean_abs_error": number(),
    "tolerance.value": number(),
}

log = logging.getLogger(__name__)


def quadrature_grid(real: Mixture, fake: Mixture, nodes_per_axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Legendre nodes (N, d) and weights (N,) covering both mixtures to 10 std (mass left < 1e-22)."""
    low, high = min(real.bounds(10)[0], fake.bounds(10)[0]), max(real.bounds(10)[1], fake.bounds(10)[1])
    segments = max(1, nodes_per_axis // 50)
    nodes, weights = gauss_legendre(list(np.linspace(low, high, segments + 1)), nodes_per_segment=50)
    nodes, weights = torch.from_numpy(nodes), torch.from_numpy(weights)
    if real.dimension == 1:
        return nodes[:, None], weights
    x, y = torch.meshgrid(nodes, nodes, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], 1), (weights[:, None] * weights[None, :]).flatten()


def train_discriminator(real: Mixture, fake: Mixture, lab_cfg: DictConfig, *, seed: int) -> torch.nn.Module:
    """An MLP D trained on fresh samples each step, Adam with a cosine-decayed learning rate (float64)."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    discriminator = Logit(mlp([real.dimension, *lab_cfg.hidden, 1])).double()
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lab_cfg.lr)
    steps, batch = int(lab_cfg.steps), int(lab_cfg.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        discriminator_step(discriminator, optimizer, real.sample(batch, rng=rng), fake.sample(batch, rng=rng))
        schedule.step()
    return discriminator


def quadrature_errors(
    discriminator: torch.nn.Module, real: Mixture, fake: Mixture, lab_cfg: DictConfig
) -> dict[str, float]:
    """|D - D*| (max where the data are, mean under (P_r+P_g)/2), the game's value and JSD, by quadrature."""
    nodes, weights = quadrature_grid(real, fake, int(lab_cfg.quadrature_nodes))
    log_real, log_fake = real.log_prob(nodes), fake.log_prob(nodes)
    with torch.no_grad():
        logits = discriminator(nodes)
    optimal = torch.sigmoid(log_real - log_fake)  # Eq. (2), from log densities: no 0/0 in the tails
    error = (torch.sigmoid(logits) - optimal).abs()
    mixture = 0.5 * (log_real.exp() + log_fake.exp())
    # where the data are: the max error is taken there (D is free elsewhere)
    region = mixture >= float(lab_cfg.region_fraction) * mixture.max()
    # E_r log D + E_g log(1 - D), by quadrature, in softplus form
    value = weights * (log_real.exp() * -F.softplus(-logits) + log_fake.exp() * -F.softplus(logits))
    jsd = jsd_from_log_densities(log_real, log_fake, weights)
    return {
        "max_abs_error": float(error[region].max()),
        "mean_abs_error": float((weights * mixture * error).sum() / (weights * mixture).sum()),
        "value_trained": float(value.sum()),
        "jsd": jsd,
    }


def sampled_value(
    discriminator: torch.nn.Module, real: Mixture, fake: Mixture, count: int, *, seed: int
) -> float:
    """-2 d_loss = E_r log D + E_g log(1 - D) on `count` fresh samples of each kind."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        sampled_real = discriminator(real.sample(count, rng=rng))
        sampled_fake = discriminator(fake.sample(count, rng=rng))
    d_loss = 0.5 * float(F.softplus(-sampled_real).mean() + F.softplus(sampled_fake).mean())
    return -2.0 * d_loss


def compare(
    name: str, real: Mixture, fake: Mixture, lab_cfg: DictConfig, *, seed: int
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train D for one problem; returns its row of errors and values, and D, D* on a plotting grid."""
    discriminator = train_discriminator(real, fake, lab_cfg, seed=seed)
    errors = quadrature_errors(discriminator, real, fake, lab_cfg)
    row = {
        "problem": name,
        "dimension": real.dimension,
        "max_abs_error": errors["max_abs_error"],
        "mean_abs_error": errors["mean_abs_error"],
        "value_trained": errors["value_trained"],
        "value_sampled": sampled_value(discriminator, real, fake, int(lab_cfg.eval_samples), seed=seed + 1),
        "value_optimal": 2.0 * errors["jsd"] - 2.0 * LOG_2,
        "jsd": errors["jsd"],
    }
    row["value_gap"] = abs(row["value_trained"] - row["value_optimal"])
    return row, plotting_grid(name, real, fake, discriminator)


def plotting_grid(name: str, real: Mixture, fake: Mixture, discriminator: torch.nn.Module) -> pd.DataFrame:
    """D, D* and both densities on a uniform grid (400 points in 1-D, 80x80 in 2-D) for the figure."""
    low, high = min(real.bounds(4)[0], fake.bounds(4)[0]), max(real.bounds(4)[1], fake.bounds(4)[1])
    if real.dimension == 1:
        points = torch.linspace(low, high, 400, dtype=torch.float64)[:, None]
    else:
        axis = torch.linspace(low, high, 80, dtype=torch.float64)
        x, y = torch.meshgrid(axis, axis, indexing="ij")
        points = torch.stack([x.flatten(), y.flatten()], 1)
    log_real, log_fake = real.log_prob(points), fake.log_prob(points)
    with torch.no_grad():
        trained = torch.sigmoid(discriminator(points))
    return pd.DataFrame(
        {
            "problem": name,
            "x": points[:, 0].numpy(),
            "y": points[:, 1].numpy() if real.dimension == 2 else math.nan,
            "d_trained": trained.numpy(),
            "d_optimal": torch.sigmoid(log_real - log_fake).numpy(),
            "p_real": log_real.exp().numpy(),
            "p_fake": log_fake.exp().numpy(),
        }
    )


def claims(rows: list[dict[str, Any]], tolerance: DictConfig) -> list[dict[str, Any]]:
    """One claim per problem: D matches D* on average and the game's value matches 2 JSD - 2 log 2."""
    return [
        {
            "claim": f"{row['problem']}: trained D matches D* = P_r/(P_r+P_g) (mean |D - D*| <= "
            f"{tolerance.mean_abs_error}) and the game's value matches 2 JSD - 2 log 2 (within "
            f"{tolerance.value})",
            "measured": {
                key: row[key] for key in ("max_abs_error", "mean_abs_error", "value_trained", "value_optimal")
            },
            "holds": bool(
                row["mean_abs_error"] <= tolerance.mean_abs_error and row["value_gap"] <= tolerance.value
            ),
        }
        for row in rows
    ]


def run(cfg: DictConfig, *, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """Every problem in lab.problems (CPU, float64); writes optimal_discriminator.csv and its plot grid."""
    lab_cfg, rows, grids = cfg.lab, [], []
    for index, (name, problem) in enumerate(lab_cfg.problems.items()):
        real = Mixture.from_config(problem.real, f"lab.problems.{name}.real")
        fake = Mixture.from_config(problem.fake, f"lab.problems.{name}.fake")
        row, grid = compare(name, real, fake, lab_cfg, seed=int(cfg.seed) + index)
        log.info(
            "lab: %s: max |D - D*| %.3g, mean %.3g; value %.5f vs 2 JSD - 2 log 2 = %.5f",
            name,
            row["max_abs_error"],
            row["mean_abs_error"],
            row["value_trained"],
            row["value_optimal"],
        )
        rows.append(row)
        grids.append(grid)
    write_csv(run_dir / "optimal_discriminator.csv", pd.DataFrame(rows))
    write_csv(run_dir / "optimal_discriminator_grid.csv", pd.concat(grids))
    return {"problems": rows, "claims": claims(rows, lab_cfg.tolerance)}
