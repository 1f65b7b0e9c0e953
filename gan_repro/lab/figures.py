"""The theory lab's figures, drawn from its CSVs alone (no torch, no training code)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import cm
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gan_repro.files import atomic_write


def draw_d_1d(axis: Axes, rows: pd.DataFrame) -> None:
    """A 1-D problem's panel: D* and the trained D, over both densities."""
    axis.plot(rows["x"], rows["d_optimal"], color="k", linewidth=2.5, label=r"$D^* = P_r/(P_r+P_g)$")
    axis.plot(rows["x"], rows["d_trained"], color="C3", linestyle="--", linewidth=1.6, label="trained D")
    density = axis.twinx()
    density.fill_between(rows["x"], rows["p_real"], color="C0", alpha=0.2, label="$P_r$")
    density.fill_between(rows["x"], rows["p_fake"], color="C1", alpha=0.2, label="$P_g$")
    density.set_ylim(bottom=0)
    density.set_yticks([])
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("x")
    axis.legend(loc="upper left", fontsize=8)
    density.legend(loc="upper right", fontsize=8)


def draw_d_2d(figure: Figure, axis: Axes, rows: pd.DataFrame) -> None:
    """A 2-D problem's panel: |D - D*| with both densities' and D* = 1/2's level sets."""
    side = int(round(np.sqrt(len(rows))))
    x, y = (rows[c].to_numpy().reshape(side, side) for c in ("x", "y"))
    error = np.abs(rows["d_trained"] - rows["d_optimal"]).to_numpy().reshape(side, side)
    image = axis.pcolormesh(x, y, error, cmap="magma", shading="auto", vmin=0, vmax=max(0.05, error.max()))
    figure.colorbar(image, ax=axis, label=r"$|D - D^*|$")
    for column, color in (("p_real", "C0"), ("p_fake", "C1")):
        density = rows[column].to_numpy().reshape(side, side)
        axis.contour(x, y, density, levels=4, colors=color, linewidths=0.8)
    axis.contour(
        x, y, rows["d_optimal"].to_numpy().reshape(side, side), levels=[0.5], colors="w", linewidths=1.5
    )
    axis.set_xlabel("$x_1$")
    axis.set_ylabel("$x_2$")


def draw_optimal_discriminator(run_dir: Path) -> Figure:
    """One panel per problem: D and D* (1-D, with both densities) or |D - D*| with D*'s level sets (2-D)."""
    table = pd.read_csv(run_dir / "optimal_discriminator.csv").set_index("problem")
    grid = pd.read_csv(run_dir / "optimal_discriminator_grid.csv")
    problems = list(table.index)
    figure = Figure(figsize=(4.6 * len(problems), 4.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(problems)))
    for axis, problem in zip(axes, problems, strict=True):
        rows, row = grid[grid["problem"] == problem], table.loc[problem]
        if int(row["dimension"]) == 1:
            draw_d_1d(axis, rows)
        else:
            draw_d_2d(figure, axis, rows)
        axis.set_title(
            f"{problem}: max $|D-D^*|$ {row['max_abs_error']:.3f}, "
            f"mean {row['mean_abs_error']:.4f}\n"
            f"value {row['value_trained']:.4f} vs $2JSD - 2\\log 2$ = {row['value_optimal']:.4f}",
            fontsize=9,
        )
    figure.suptitle("Optimal discriminator (Eq. 2): an MLP trained on samples against the closed form")
    return figure


def draw_gradient_identity(run_dir: Path) -> Figure:
    """Expectations against divergence gradients (on the diagonal when Theorem 2.5 holds); relative errors."""
    table = pd.read_csv(run_dir / "gradient_identity.csv")
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    scatter, errors = figure.subplots(1, 2)
    for marker, (cost, rows) in zip("os", table.groupby("cost"), strict=False):
        label = {
            "nonsaturating": r"$E[-\nabla\log D^*]$ vs $\nabla[KL - 2JSD]$",
            "minimax": r"$E[\nabla\log(1-D^*)]$ vs $\nabla\, 2JSD$",
        }[cost]
        scatter.plot(rows["divergence_gradient"], rows["expectation_quadrature"], marker, label=label)
    limits = [
        table[["divergence_gradient", "expectation_quadrature"]].min().min(),
        table[["divergence_gradient", "expectation_quadrature"]].max().max(),
    ]
    scatter.plot(limits, limits, "k-", linewidth=0.8, alpha=0.5)
    scatter.set_xlabel("gradient of the divergences (quadrature + finite differences)")
    scatter.set_ylabel("expected generator gradient (Gauss-Hermite in z)")
    scatter.legend(fontsize=8)
    scatter.grid(True, alpha=0.3)
    thetas = table.drop_duplicates(["theta_mean", "theta_std", "cost"])
    points = thetas.drop_duplicates(["theta_mean", "theta_std"])[["theta_mean", "theta_std"]]
    labels = [f"({m:g}, {s:g})" for m, s in points.itertuples(index=False)]
    positions = np.arange(len(labels))
    for offset, (cost, rows) in zip((-0.2, 0.2), thetas.groupby("cost", sort=False), strict=False):
        errors.bar(positions + offset, rows["relative_error"], width=0.35, label=f"{cost}, quadrature")
        errors.plot(positions + offset, rows["relative_error_sampled"], "kx", label=None)
    errors.plot([], [], "kx", label="Monte Carlo batch (for scale)")
    errors.set_yscale("log")
    errors.set_xticks(positions, labels)
    errors.set_xlabel(r"$\theta_0 = (\mu, s)$")
    errors.set_ylabel("relative error")
    errors.legend(fontsize=8)
    errors.grid(True, axis="y", alpha=0.3)
    figure.suptitle(r"Theorem 2.5 for $g_\theta(z) = \mu + s z$, $P_r$ Gaussian, $D^*$ frozen at $\theta_0$")
    return figure


def draw_curves(figure: Figure, plane: Axes, levels: pd.DataFrame, points: pd.DataFrame) -> None:
    """Both curves over D's logit after training, D = 1/2 in black."""
    final = levels[levels["iteration"] == levels["iteration"].max()]
    side = int(round(np.sqrt(len(final))))
    x, y, logit = (final[c].to_numpy().reshape(side, side) for c in ("x", "y", "logit"))
    image = plane.contourf(x, y, logit, levels=20, cmap="RdBu_r")
    figure.colorbar(image, ax=plane, label="D's logit (D = sigmoid)")
    plane.contour(x, y, logit, levels=[0.0], colors="k", linewidths=1.0)
    for kind, color, label in (("real", "C0", "$P_r$: unit circle"), ("fake", "C1", "$P_g$: G's curve")):
        rows = points[points["kind"] == kind]
        plane.plot(rows["x"], rows["y"], color=color, linewidth=2.5, label=label)
    plane.set_aspect("equal")
    plane.legend(fontsize=8, loc="lower right")
    plane.set_title(f"after {int(final['iteration'].iloc[0])} D iterations (black: D = 1/2)", fontsize=9)


def draw_manifold(run_dir: Path) -> Figure:
    """The two curves with D's level sets after training, and D's cost, accuracy and G's gradient norms."""
    history = pd.read_csv(run_dir / "manifold.csv")
    figure = Figure(figsize=(15, 4.6), layout="constrained")
    plane, cost, gradients = figure.subplots(1, 3)
    draw_curves(
        figure,
        plane,
        pd.read_csv(run_dir / "manifold_levels.csv"),
        pd.read_csv(run_dir / "manifold_points.csv"),
    )
    cost.plot(history["iteration"], history["d_loss"], color="C3", label="D's cost")
    cost.set_yscale("log")
    cost.set_xlabel("discriminator iterations")
    cost.set_ylabel("D's cost")
    accuracy = cost.twinx()
    accuracy.plot(history["iteration"], history["d_accuracy"], color="C2", alpha=0.7, label="accuracy")
    accuracy.set_ylabel("D's accuracy")
    accuracy.set_ylim(0.4, 1.02)
    cost.legend(loc="upper center", fontsize=8)
    accuracy.legend(loc="center right", fontsize=8)
    gradients.plot(history["iteration"], history["grad_norm_minimax"], label=r"minimax $\log(1-D)$")
    gradients.plot(history["iteration"], history["grad_norm_nonsaturating"], label=r"$-\log D$")
    gradients.set_yscale("log")
    gradients.set_xlabel("discriminator iterations")
    gradients.set_ylabel(r"$\|\nabla_\theta\|$ of G's cost")
    gradients.legend(fontsize=8)
    for axis in (cost, gradients):
        axis.grid(True, alpha=0.3)
    figure.suptitle(
        "Theorems 2.1-2.4 on two curves in $R^2$: D becomes perfect, the minimax gradient vanishes"
    )
    return figure


def draw_cauchy(run_dir: Path) -> Figure:
    """QQ plots against the fitted Cauchy per sigma, and the Hill tail index against sigma / median D*."""
    table = pd.read_csv(run_dir / "cauchy.csv")
    qq = pd.read_csv(run_dir / "cauchy_qq.csv")
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    plot, tails = figure.subplots(1, 2)
    sigmas = sorted(table["noise_std"].unique(), reverse=True)
    for index, sigma in enumerate(sigmas):
        rows = qq[qq["noise_std"] == sigma]
        plot.plot(
            rows["cauchy_quantile"],
            rows["sample_quantile"],
            ".",
            markersize=3,
            color=cm.viridis(index / max(1, len(sigmas) - 1)),
            label=rf"$\sigma$ = {sigma:.0e}",
        )
    plot.plot([-60, 60], [-60, 60], "k-", linewidth=0.8)
    plot.set_xscale("symlog", linthresh=1)
    plot.set_yscale("symlog", linthresh=1)
    plot.set_xlabel("standard Cauchy quantile")
    plot.set_ylabel("sample quantile (standardized by the Cauchy fit)")
    plot.legend(fontsize=7)
    plot.grid(True, alpha=0.3)
    tails.plot(table["noise_to_optimal"], table["tail_index"], "o-", label="Hill tail index of |gradient|")
    tails.axhline(1.0, color="k", linestyle="--", linewidth=0.8, label="Cauchy: 1")
    tails.set_xscale("log")
    tails.set_yscale("log")
    tails.set_xlabel(r"$\sigma$ / median $D^*$ on $P_g$")
    tails.set_ylabel("tail index (small = heavy)")
    tails.legend(fontsize=8)
    tails.grid(True, which="both", alpha=0.3)
    figure.suptitle(
        r"Theorem 2.6: $-\nabla_\mu \log D$ with $D = D^* + \epsilon$, "
        r"$\nabla D = \nabla D^* + r$"
    )
    return figure


def draw_noise_bound(run_dir: Path) -> Figure:
    """Theorem 3.3's bound against the exact W1, per shift, as sigma varies; and the ratio."""
    table = pd.read_csv(run_dir / "noise_bound_1d.csv")
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    values, ratios = figure.subplots(1, 2)
    shifts = sorted(table["shift"].unique())
    for index, shift in enumerate(shifts):
        rows = table[table["shift"] == shift].sort_values("noise_std")
        color = cm.plasma(index / max(1, len(shifts) - 1))
        label = f"shift {shift:g}"
        values.plot(rows["noise_std"], rows["bound"], "o-", color=color, markersize=3, label=label)
        values.axhline(rows["wasserstein"].iloc[0], color=color, linestyle="--", linewidth=0.9)
        ratios.plot(rows["noise_std"], rows["ratio"], "o-", color=color, markersize=3, label=label)
    ratios.axhline(1.0, color="k", linewidth=0.8)
    for axis in (values, ratios):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(r"noise $\sigma$")
        axis.grid(True, which="major", alpha=0.3)
    values.set_ylabel(r"bound $2V^{1/2} + 2C\,JSD^{1/2}$ (solid), exact $W_1$ (dashed)")
    ratios.set_ylabel(r"bound / $W_1$ (1 = tight)")
    ratios.legend(fontsize=7)
    figure.suptitle(
        r"Theorem 3.3 in 1-D: $P_r$, $P_g$ point masses ($P_g$ shifted right), "
        r"$\epsilon$ Gaussian "
        rf"truncated at $\pm${table['clip_sigmas'].iloc[0]:g}$\sigma$"
    )
    return figure


def draw_jacobian(run_dir: Path) -> Figure:
    """Singular values of dG/dz at each latent point, one color per snapshot, with nz marked."""
    table = pd.read_csv(run_dir / "jacobian.csv")
    figure = Figure(figsize=(7, 4.8), layout="constrained")
    axis = figure.subplots()
    for index, (snapshot, rows) in enumerate(table.groupby("snapshot_iteration")):
        for point, spectrum in rows.groupby("point"):
            axis.plot(
                spectrum["index"],
                spectrum["singular_value"],
                color=f"C{index}",
                alpha=0.5,
                linewidth=1,
                label=f"G after {int(snapshot)} G steps" if point == 0 else None,
            )
    nz, dimension = int(table["nz"].iloc[0]), int(table["output_dimension"].iloc[0])
    axis.axvline(nz, color="k", linestyle="--", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xlabel("singular value index")
    axis.set_ylabel(r"singular value of $\partial G(z) / \partial z$")
    axis.set_title(
        f"Lemma 1: at most nz = {nz} directions out of {dimension} pixels; "
        f"the other {dimension - nz} are exactly 0",
        fontsize=9,
    )
    axis.legend(fontsize=8)
    axis.grid(True, which="major", alpha=0.3)
    return figure


LAB_FIGURES: dict[str, Callable[[Path], Figure]] = {
    "optimal_discriminator": draw_optimal_discriminator,
    "gradient_identity": draw_gradient_identity,
    "manifold": draw_manifold,
    "cauchy": draw_cauchy,
    "noise_bound": draw_noise_bound,
    "jacobian": draw_jacobian,
}


def draw_lab_figure(name: str, run_dir: Path, *, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """figures/<name>.<fmt> for a theory-lab run folder, from its CSVs."""
    figure = LAB_FIGURES[name](Path(run_dir))
    return [
        atomic_write(
            Path(run_dir) / "figures" / f"{name}.{fmt}",
            lambda handle, fmt=fmt: figure.savefig(handle, format=fmt, dpi=150),
        )
        for fmt in formats
    ]
