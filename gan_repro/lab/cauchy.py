"""Lab 4: Theorem 2.6. D = D* + eps and grad_x D = grad_x D* + r, with eps, r ~ N(0, sigma^2) independent at
every x: the -log D gradient E_z[-grad_theta log D(g_theta(z))] = E_z[-J_theta g(z)^T grad_x D / D] is then
a ratio of centered Gaussians where D* ~ 0 on P_g's support, i.e. Cauchy, however small sigma is, as long
as sigma dominates D* there.

P_r = N(m, 1) far from P_g = N(mu, s^2) (g_theta(z) = mu + s z), so D* on the generated points is tiny
(about e^{-m^2/2}) but known exactly. Heavy tails are measured by the Hill estimator of |grad| (a Cauchy
has tail index 1, a Gaussian infinity) and by the Kolmogorov-Smirnov distance to a fitted Cauchy.
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
from omegaconf import DictConfig
from scipy import stats

from gan_repro.config import Rule, number, whole
from gan_repro.files import write_csv
from gan_repro.lab.common import FINITE, INTERVAL, MEAN_STD, numbers

SETTINGS: dict[str, Rule] = {  # lab.<key>
    "real.mean": FINITE,
    "real.std": number(),
    "theta": MEAN_STD,
    "noise_stds": numbers(),
    "batch_size": whole(),
    "draws": whole(minimum=3),  # Hill's estimator needs more than its 2 largest values
    "tail_fraction": number(high=1.0),
    "dominance": number(),
    "cauchy_index_range": INTERVAL,
}

log = logging.getLogger(__name__)
QQ_LEVELS = np.linspace(0.005, 0.995, 199)  # probability levels of the QQ plot
Pair = tuple[float, float]  # (mean, std) of a normal: P_r, or theta = (mu, s)


def noisy_gradients(
    real: Pair, theta: Pair, sigma: float, *, draws: int, batch_size: int, rng: torch.Generator
) -> tuple[np.ndarray, float]:
    """`draws` batch means of -d/dmu log D(g_theta(z)), D = D* + eps, D' = D*' + r; and median D* on P_g."""
    z = torch.randn(draws, batch_size, dtype=torch.float64, generator=rng)
    x = theta[0] + theta[1] * z
    # log D* = -softplus(-(log P_r - log P_g)); d/dx D* = D*(1 - D*) d/dx (log P_r - log P_g)
    log_ratio = (
        -0.5 * ((x - real[0]) / real[1]) ** 2
        - math.log(real[1])
        + 0.5 * ((x - theta[0]) / theta[1]) ** 2
        + math.log(theta[1])
    )
    slope = -(x - real[0]) / real[1] ** 2 + (x - theta[0]) / theta[1] ** 2
    optimal = torch.exp(-F.softplus(-log_ratio))
    optimal_slope = optimal * torch.sigmoid(-log_ratio) * slope
    eps = sigma * torch.randn(draws, batch_size, dtype=torch.float64, generator=rng)
    r = sigma * torch.randn(draws, batch_size, dtype=torch.float64, generator=rng)
    gradient = -(optimal_slope + r) / (optimal + eps)  # -d/dmu log D = -(dx/dmu) D'/D, dx/dmu = 1
    return gradient.mean(dim=1).numpy(), float(optimal.median())


def hill_tail_index(values: np.ndarray, fraction: float) -> float:
    """Hill's estimator of the tail index of |values| from its largest `fraction` (Cauchy: 1)."""
    magnitudes = np.sort(np.abs(values))[::-1]
    k = max(2, int(fraction * len(magnitudes)))
    return float(1.0 / np.mean(np.log(magnitudes[:k] / magnitudes[k])))


def fit_row(
    gradients: np.ndarray, sigma: float, median_optimal: float, tail_fraction: float
) -> dict[str, Any]:
    """cauchy.csv's row for one sigma: tail index, Cauchy fit, KS distances to it and to a fitted normal."""
    location, scale = stats.cauchy.fit(gradients)
    normal = stats.norm.fit(gradients)
    return {
        "noise_std": sigma,
        "median_optimal_d": median_optimal,
        "noise_to_optimal": sigma / median_optimal,
        "tail_index": hill_tail_index(gradients, tail_fraction),
        "cauchy_location": location,
        "cauchy_scale": scale,
        "ks_cauchy": float(stats.kstest(gradients, "cauchy", args=(location, scale)).statistic),
        "ks_normal": float(stats.kstest(gradients, "norm", args=normal).statistic),
        "median_abs": float(np.median(np.abs(gradients))),
        "max_abs": float(np.abs(gradients).max()),
    }


def qq_points(gradients: np.ndarray, row: dict[str, Any]) -> pd.DataFrame:
    """Sample quantiles, standardized by the row's Cauchy fit, against standard Cauchy quantiles."""
    return pd.DataFrame(
        {
            "noise_std": row["noise_std"],
            "probability": QQ_LEVELS,
            "cauchy_quantile": stats.cauchy.ppf(QQ_LEVELS),
            "sample_quantile": (np.quantile(gradients, QQ_LEVELS) - row["cauchy_location"])
            / row["cauchy_scale"],
        }
    )


def claims(table: pd.DataFrame, lab_cfg: DictConfig) -> list[dict[str, Any]]:
    """Theorem 2.6: Cauchy-like tails at every sigma that dominates D* on P_g."""
    dominated = table[table["noise_to_optimal"] >= float(lab_cfg.dominance)]
    low, high = lab_cfg.cauchy_index_range
    return [
        {
            "claim": f"where the noise dominates D* on P_g (sigma >= {lab_cfg.dominance:g} x median D*), "
            f"the -log D gradient is Cauchy-like: Hill tail index in [{low}, {high}] and closer to "
            "a Cauchy than to a normal (Theorem 2.6)",
            "measured": {f"{row.noise_std:g}": round(row.tail_index, 3) for row in dominated.itertuples()},
            "holds": bool(
                len(dominated) > 0
                and dominated["tail_index"].between(low, high).all()
                and (dominated["ks_cauchy"] < dominated["ks_normal"]).all()
            ),
        }
    ]


def run(cfg: DictConfig, *, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """Gradients for every sigma in lab.noise_stds; writes cauchy.csv (fits) and cauchy_qq.csv (QQ points)."""
    lab_cfg = cfg.lab
    real = (float(lab_cfg.real.mean), float(lab_cfg.real.std))
    theta = (float(lab_cfg.theta[0]), float(lab_cfg.theta[1]))
    rows, qq = [], []
    for index, sigma in enumerate(float(s) for s in lab_cfg.noise_stds):
        rng = torch.Generator().manual_seed(int(cfg.seed) + index)
        gradients, median_optimal = noisy_gradients(
            real, theta, sigma, draws=int(lab_cfg.draws), batch_size=int(lab_cfg.batch_size), rng=rng
        )
        rows.append(fit_row(gradients, sigma, median_optimal, float(lab_cfg.tail_fraction)))
        qq.append(qq_points(gradients, rows[-1]))
        row = rows[-1]
        log.info(
            "lab: sigma %.0e (%.1e x median D*): tail index %.2f, KS to Cauchy %.3f, to normal %.3f",
            sigma,
            row["noise_to_optimal"],
            row["tail_index"],
            row["ks_cauchy"],
            row["ks_normal"],
        )
    table = pd.DataFrame(rows)
    write_csv(run_dir / "cauchy.csv", table)
    write_csv(run_dir / "cauchy_qq.csv", pd.concat(qq))
    return {"table": rows, "claims": claims(table, lab_cfg)}
