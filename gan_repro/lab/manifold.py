"""Lab 3: Theorems 2.1-2.4 where everything can be drawn: P_r on a curve in R^2 (the unit circle), P_g on
another curve (a frozen generator from a 1-D latent: a sine wave inside the circle, disjoint from it). A fresh D trained
with G frozen reaches accuracy 1 and the minimax gradient vanishes, as in Figure 2."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn as nn
from omegaconf import DictConfig

from gan_repro.lab.common import Logit, discriminator_training_step, mlp, positive_int
from gan_repro.logger import CSVLogger
from gan_repro.models import requires_grad
from gan_repro.probe import generator_grad_norms
from gan_repro.report import orders_of_magnitude

log = logging.getLogger(__name__)
COLUMNS = ["iteration", "d_loss", "d_accuracy", "grad_norm_minimax", "grad_norm_nonsaturating"]


class CurveGenerator(nn.Module):
    """z (B, 1) ~ U(-1, 1) -> x = (width z, amplitude sin(frequency z)) + offset, (B, 2): a 1-D manifold in R^2.

    Its four groups of parameters are what the probe differentiates (G is frozen; D never moves them)."""

    def __init__(self, *, width: float, amplitude: float, frequency: float, offset: tuple[float, float]):
        super().__init__()
        self.width = nn.Parameter(torch.tensor(float(width)))
        self.amplitude = nn.Parameter(torch.tensor(float(amplitude)))
        self.frequency = nn.Parameter(torch.tensor(float(frequency)))
        self.offset = nn.Parameter(torch.tensor([float(v) for v in offset]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.view(-1)
        return torch.stack([self.width * z, self.amplitude * torch.sin(self.frequency * z)], dim=1) + self.offset


def sample_circle(count: int, *, generator: torch.Generator) -> torch.Tensor:
    """Uniform points on the unit circle, (count, 2)."""
    angle = 2 * math.pi * torch.rand(count, generator=generator)
    return torch.stack([angle.cos(), angle.sin()], dim=1)


def sample_latent(count: int, *, generator: torch.Generator) -> torch.Tensor:
    """z ~ U(-1, 1), (count, 1)."""
    return 2 * torch.rand(count, 1, generator=generator) - 1


def level_grid(discriminator: nn.Module, *, extent: float, points: int) -> pd.DataFrame:
    """D(x) on a points x points grid over [-extent, extent]^2, for the contour plot."""
    axis = torch.linspace(-extent, extent, points)
    x, y = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        logits = discriminator(torch.stack([x.flatten(), y.flatten()], 1))
    return pd.DataFrame({"x": x.flatten().numpy(), "y": y.flatten().numpy(), "logit": logits.numpy(),
                         "d": torch.sigmoid(logits).numpy()})


def run(lab_cfg: DictConfig, *, run_dir: Path, seed: int) -> dict[str, Any]:
    """Train a fresh D against the frozen curve generator; writes manifold.csv, manifold_points.csv and
    manifold_levels.csv (D before and after training)."""
    torch.manual_seed(seed)
    curve = lab_cfg.curve
    generator = CurveGenerator(width=curve.width, amplitude=curve.amplitude, frequency=curve.frequency,
                               offset=tuple(curve.offset))
    requires_grad(generator, False)  # frozen
    discriminator = Logit(mlp([2, *lab_cfg.hidden, 1], activation=lambda: nn.LeakyReLU(0.2)))
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=float(lab_cfg.lr),
                                 betas=(float(lab_cfg.beta1), float(lab_cfg.beta2)))
    rng = torch.Generator().manual_seed(seed)
    batch = positive_int(lab_cfg, "batch_size", "lab")
    iterations, log_every = positive_int(lab_cfg, "iterations", "lab"), positive_int(lab_cfg, "log_every", "lab")
    extent = float(lab_cfg.extent)
    levels = [level_grid(discriminator, extent=extent, points=int(lab_cfg.grid_points)).assign(iteration=0)]

    with CSVLogger(run_dir / "manifold.csv", COLUMNS) as logger:
        for iteration in range(1, iterations + 1):
            with torch.no_grad():
                fake = generator(sample_latent(batch, generator=rng))
            metrics = discriminator_training_step(discriminator, optimizer, sample_circle(batch, generator=rng), fake)
            if iteration == 1 or iteration % log_every == 0:
                norms = generator_grad_norms(generator, discriminator, sample_latent(batch, generator=rng))
                logger.log({"iteration": iteration, **metrics, **norms})
    levels.append(level_grid(discriminator, extent=extent, points=int(lab_cfg.grid_points)).assign(iteration=iterations))
    pd.concat(levels).to_csv(run_dir / "manifold_levels.csv", index=False)
    with torch.no_grad():
        curve = generator(torch.linspace(-1, 1, 400)[:, None])
    angle = torch.linspace(0, 2 * math.pi, 400)
    pd.concat([pd.DataFrame({"kind": "real", "x": angle.cos().numpy(), "y": angle.sin().numpy()}),
               pd.DataFrame({"kind": "fake", "x": curve[:, 0].numpy(), "y": curve[:, 1].numpy()})]
              ).to_csv(run_dir / "manifold_points.csv", index=False)

    history = pd.read_csv(run_dir / "manifold.csv")
    first_perfect = history.loc[history["d_accuracy"] >= 1.0, "iteration"]
    decay = orders_of_magnitude(float(history["grad_norm_minimax"].iloc[0]), float(history["grad_norm_minimax"].iloc[-1]))
    summary = {"first_perfect_iteration": int(first_perfect.iloc[0]) if len(first_perfect) else None,
               "final_accuracy": float(history["d_accuracy"].iloc[-1]), "final_d_loss": float(history["d_loss"].iloc[-1]),
               "minimax_decay_orders": decay,
               "grad_norm_minimax": [float(history["grad_norm_minimax"].iloc[0]), float(history["grad_norm_minimax"].iloc[-1])],
               "grad_norm_nonsaturating": [float(history["grad_norm_nonsaturating"].iloc[0]),
                                           float(history["grad_norm_nonsaturating"].iloc[-1])]}
    log.info("lab: accuracy 1 first at iteration %s; minimax gradient %.3g -> %.3g (%.1f orders)",
             summary["first_perfect_iteration"], *summary["grad_norm_minimax"], decay or math.nan)
    minimum = float(lab_cfg.min_decay_orders)
    summary["claims"] = [
        {"claim": "a D trained against a frozen G on another curve reaches accuracy 1 (Theorems 2.1-2.3)",
         "measured": summary["first_perfect_iteration"], "holds": summary["final_accuracy"] >= 1.0},
        {"claim": f"the minimax gradient norm falls by >= {minimum:g} orders of magnitude (Theorem 2.4)",
         "measured": decay, "holds": decay is not None and decay >= minimum}]
    return summary
