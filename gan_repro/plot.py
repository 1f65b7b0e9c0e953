"""Stage 3: Figures 1-3 from probe.csv alone (experiment=updates' figure from updates.csv alone);
`gan-repro-plot RUN_DIR` (cli.py) redraws a finished run.

Curves are centered running averages, as in the paper, with the raw logged values visible behind them.
The window shrinks symmetrically at the ends (the first and last points are their own average), so a
curve starts and ends where the data do. Quantities on a log axis (D's cost, gradient norms) are
averaged in log space (a geometric running mean), so one spike cannot hide a decay over orders of
magnitude.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import cm
from matplotlib.figure import Figure

from gan_repro.files import atomic_write
from gan_repro.report import (
    CLAIM_THRESHOLDS,
    CONTROL_SNAPSHOT,
    DEFAULT_CRITICS,
    FIGURES,
    FORMATS,
    GRADIENT_COLUMNS,
    LINEAR_CRITIC,
    PAPER_CRITIC,
    critic_rows,
    data_diameter,
    noiseless_rows,
    read_probe,
    snapshot_files,
    snapshot_of,
    snapshot_rows,
    snapshot_words,
    updates_changes,
    without_sweep,
)

log = logging.getLogger(__name__)

GRADIENT_FIGURES = {
    "fig2": (
        "grad_norm_minimax",
        r"Figure 2: $\|\nabla_\theta\, E_z \log(1 - D(G_\theta(z)))\|$ (original cost)",
    ),
    "fig3": (
        "grad_norm_nonsaturating",
        r"Figure 3: $\|\nabla_\theta\, E_z [-\log D(G_\theta(z))]\|$ ($-\log D$ cost)",
    ),
}


def running_mean(values: np.ndarray, window: int, *, geometric: bool = False) -> np.ndarray:
    """Centered running mean over 2*(window//2)+1 points, the window shrinking symmetrically near the ends
    (point i averages i-h..i+h, h = min(window//2, i, n-1-i)); NaNs are left out; geometric = mean of logs."""
    values = np.asarray(values, dtype=float)
    series = np.log(np.clip(values, np.finfo(float).tiny, None)) if geometric else values
    finite = np.isfinite(series)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, series, 0.0))])  # prefix sums, (n + 1,)
    counts = np.concatenate([[0], np.cumsum(finite)])
    index = np.arange(len(series))
    half = np.minimum(window // 2, np.minimum(index, len(series) - 1 - index))
    total, count = (
        sums[index + half + 1] - sums[index - half],
        counts[index + half + 1] - counts[index - half],
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.exp(smoothed) if geometric else smoothed


def snapshot_label(rows: pd.DataFrame) -> str:
    """A snapshot's rows in words: 'G after epoch 10 (900 G steps)', or the control's name."""
    iteration, epoch = int(rows["snapshot_iteration"].iloc[0]), float(rows["snapshot_epoch"].iloc[0])
    words = snapshot_words(iteration, epoch)
    return words if iteration == CONTROL_SNAPSHOT else f"G after {words}"


def plot_curves(
    axis,
    probe: pd.DataFrame,
    column: str,
    window: int,
    *,
    log_scale: bool,
    dashed: bool = False,
    label: bool = True,
) -> None:
    """Per snapshot, its raw logged points and their running average (dashed: a second quantity)."""
    for index, (snapshot, rows) in enumerate(probe.groupby("snapshot_iteration")):
        label_text = snapshot_label(rows)
        rows = rows.sort_values("iteration").dropna(subset=[column])
        color = "0.3" if snapshot == CONTROL_SNAPSHOT else f"C{index}"
        x, y = rows["iteration"].to_numpy(), rows[column].to_numpy(dtype=float)
        axis.plot(
            x,
            y,
            color=color,
            alpha=0.35,
            linewidth=0.8,
            marker=".",
            markersize=2.5,
            linestyle="--" if dashed else "-",
        )  # raw points
        axis.plot(
            x,
            running_mean(y, window, geometric=log_scale),
            color=color,
            linewidth=1.8,
            linestyle="--" if dashed else "-",
            label=label_text if label else None,
        )
        if len(x) and x[0] == 0:  # the fresh D (iteration 0), where the claims start
            axis.plot(x[:1], y[:1], marker="o", markersize=5, color=color, markerfacecolor="none")
    if log_scale:
        axis.set_yscale("log")
    axis.set_xlabel("discriminator iterations")
    axis.grid(True, which="major", alpha=0.3)


def draw_figure1(probe: pd.DataFrame, window: int, linear: pd.DataFrame | None = None) -> Figure:
    """Figure 1: D's cost (log scale) and accuracy while a fresh D trains against a frozen G; solid on fresh
    training-split batches, dashed on held-out real images (never in a D step); dotted, thin: the linear
    control's held-out accuracy (critic=linear), where the run has it."""
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    error_axis, accuracy_axis = figure.subplots(1, 2)
    for axis, column, log_scale in ((error_axis, "d_loss", True), (accuracy_axis, "d_accuracy", False)):
        plot_curves(axis, probe, column, window, log_scale=log_scale)
        if f"{column}_heldout" in probe:
            plot_curves(
                axis, probe, f"{column}_heldout", window, log_scale=log_scale, dashed=True, label=False
            )
        axis.legend(title="solid: training images, dashed: held out", title_fontsize=8, fontsize=8)
    if linear is not None and len(linear):
        for index, (_, rows) in enumerate(linear.groupby("snapshot_iteration")):
            rows = rows.sort_values("iteration")
            smoothed = running_mean(rows["d_accuracy_heldout"].to_numpy(dtype=float), window)
            accuracy_axis.plot(rows["iteration"], smoothed, color=f"C{index}", linestyle=":", linewidth=1.2)
        accuracy_axis.plot([], [], color="0.3", linestyle=":", label="linear D on pixels, held out")
        accuracy_axis.legend(title="solid: training images, dashed: held out", title_fontsize=8, fontsize=8)
    error_axis.set_ylabel(r"D's cost $-\frac{1}{2}(E\,\log D(x) + E\,\log(1-D(G(z))))$")
    error_axis.set_title("Figure 1: discriminator error")
    accuracy_axis.set_ylabel("D's accuracy")
    accuracy_axis.set_title("Figure 1: discriminator accuracy")
    return figure


def draw_gradient_figure(probe: pd.DataFrame, figure_name: str, window: int) -> Figure:
    """Figures 2 and 3: the generator's gradient norm (log scale) as the fresh D trains, from the fresh D's
    K-batch mean (circle, iteration 0); Figure 3 adds the gradient's spread over K z batches."""
    column, title = GRADIENT_FIGURES[figure_name]
    spread = column.replace("grad_norm", "grad_spread")
    second = figure_name == "fig3" and spread in probe and probe[spread].notna().any()
    figure = Figure(figsize=(11 if second else 6.5, 4.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, 2 if second else 1))
    plot_curves(axes[0], probe, column, window, log_scale=True)
    axes[0].set_ylabel("gradient norm")
    axes[0].set_title(title, fontsize=10)
    axes[0].legend()
    if second:
        points = max(1, window // 5)  # variance points are sparse (about 20 per probe): a short average
        plot_curves(axes[1], probe, spread, points, log_scale=True)
        axes[1].set_ylabel(r"$\sqrt{\sum_k \|g_k - \bar g\|^2 / (K-1)}$")
        axes[1].set_title("Figure 3: spread of the gradient over K z batches", fontsize=10)
        axes[1].legend()
    return figure


PAPER_CRITIC_FIGURES = ("fig1", "fig2", "fig3", "noise", "noise_bound", "control")  # critic=gan's rows
COST_STYLES = {  # G's cost -> (line style, legend words) in the critics figure
    "grad_norm_minimax": ("-", r"minimax $\log(1-D)$"),
    "grad_norm_nonsaturating": ("--", r"$-\log D$"),
    "grad_norm_generator": ("-", "the critic's generator cost"),
}


def critic_panels(probe: pd.DataFrame, title: str) -> tuple[Figure, list[tuple[str, pd.DataFrame, object]]]:
    """A figure with one log-scale panel per critic (in probe.csv's order), and (name, rows, axis) each."""
    rows = without_sweep(probe[probe["snapshot_iteration"] != CONTROL_SNAPSHOT])
    names = list(dict.fromkeys(rows["critic"].dropna())) if "critic" in rows else [PAPER_CRITIC]
    columns = min(3, len(names))
    lines = -(-len(names) // columns)  # ceil
    figure = Figure(figsize=(4.6 * columns, 3.8 * lines + 0.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(lines, columns, squeeze=False).ravel())
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=11)
    return figure, [(name, critic_rows(rows, name), axis) for name, axis in zip(names, axes, strict=False)]


def draw_critics_figure(probe: pd.DataFrame, critics: pd.DataFrame | None, window: int) -> Figure:
    """Figures 2-3's question for every critic, on one shared normalized axis: G's gradient norm under each
    critic's own cost over its start value (the fresh critic, iteration 0), as that critic trains from
    scratch against a frozen snapshot; one panel per snapshot, one colour per critic, log scale. A filled
    dot on each curve marks where the critic's own cost plateaued (critics.csv's plateau_iteration), the
    point at which critics are compared; dotted: the critics claim's band."""
    rows = without_sweep(probe[probe["snapshot_iteration"] != CONTROL_SNAPSHOT])
    names = [name for name in dict.fromkeys(rows["critic"].dropna()) if name != LINEAR_CRITIC]
    snapshots = list(rows.groupby("snapshot_iteration"))
    columns = min(3, max(1, len(snapshots)))
    lines = -(-len(snapshots) // columns)  # ceil
    figure = Figure(figsize=(max(10.0, 5.2 * columns), 4.4 * lines + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(lines, columns, squeeze=False).ravel())
    for axis in axes[len(snapshots) :]:
        axis.set_visible(False)
    band = 10 ** CLAIM_THRESHOLDS["critic_band_orders"]
    for axis, (_, of_snapshot) in zip(axes, snapshots, strict=False):
        for color, name in enumerate(names):
            curves = of_snapshot[of_snapshot["critic"] == name].sort_values("iteration")
            for column in [c for c in GRADIENT_COLUMNS if c in curves and curves[c].notna().any()]:
                draw_normalized_curve(axis, curves, column, window, f"C{color}", name, critics)
        axis.axhline(1.0, color="0.5", linewidth=0.8)
        for level in (band, 1 / band):
            axis.axhline(level, color="0.5", linewidth=0.8, linestyle=":")
        axis.set_yscale("log")
        axis.set_xlabel("discriminator iterations")
        axis.set_ylabel(r"$\|\nabla_\theta\, \mathrm{cost}_G\|$ / its value at iteration 0")
        axis.set_title(snapshot_label(of_snapshot), fontsize=9)
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7, title="solid: minimax or the critic's cost, dashed: -log D", title_fontsize=7)
    figure.suptitle(
        "G's gradient under each critic's own cost, over its start, as the critic trains from scratch\n"
        + (
            "dot: where the critic's own cost plateaued (critics.csv), where the critics are compared; "
            f"dotted: the critics claim's band, {CLAIM_THRESHOLDS['critic_band_orders']:g} orders"
            if critics is not None
            else "no critics.csv: plateaus not marked"
        ),
        fontsize=10,
    )
    return figure


def draw_normalized_curve(
    axis, rows: pd.DataFrame, column: str, window: int, color: str, name: str, critics: pd.DataFrame | None
) -> None:
    """One critic's gradient norm (probe.csv column) over its iteration-0 value, a running geometric mean,
    and a dot on it at the critic's plateau from critics.csv (its legend entry says when there is none)."""
    rows = rows.dropna(subset=[column])
    start = rows.loc[rows["iteration"] == 0, column]
    if start.empty or not start.iloc[0] > 0:
        return  # no start value to normalize by
    x, y = rows["iteration"].to_numpy(), rows[column].to_numpy(dtype=float) / float(start.iloc[0])
    style = COST_STYLES[column][0]
    plateau = None
    if critics is not None:
        match = critics[
            (critics["critic"] == name)
            & (critics["snapshot_iteration"] == rows["snapshot_iteration"].iloc[0])
            & (critics["column"] == column)
        ]
        plateau = match.iloc[0] if len(match) else None
    reached = plateau is not None and bool(plateau["plateau_reached"])
    label = None if style == "--" else name + ("" if critics is None or reached else " (no plateau)")
    smoothed = running_mean(y, window, geometric=True)
    axis.plot(x, smoothed, color=color, linestyle=style, label=label)
    if reached:  # on the curve, at the logged iteration where the critic's cost settled
        at = np.flatnonzero(x == plateau["plateau_iteration"])
        axis.plot(x[at], smoothed[at], "o", color=color)


def draw_critics_input_figure(probe: pd.DataFrame, window: int) -> Figure:
    """The quantity R1 and the gradient penalty regularize: the mean ||grad_x D(x)|| at real samples
    (solid) and at generated ones (dashed), per critic and snapshot (log scale)."""
    figure, panels = critic_panels(
        probe, r"$\|\nabla_x D(x)\|$ at real (solid) and generated (dashed) samples, per critic"
    )
    points = max(1, window // 5)  # measured at the variance points (about 20 per probe): a short average
    for name, rows, axis in panels:
        plot_curves(axis, rows, "input_grad_norm_real", points, log_scale=True)
        plot_curves(axis, rows, "input_grad_norm_fake", points, log_scale=True, dashed=True, label=False)
        axis.set_title(f"critic={name}", fontsize=9)
        axis.set_ylabel("input gradient norm")
        axis.legend(fontsize=7)
    return figure


def draw_control_figure(probe: pd.DataFrame, window: int) -> Figure:
    """The negative control beside the real probes: held-out accuracy (dashed) and training-batch accuracy."""
    figure = Figure(figsize=(7, 4.6), layout="constrained")
    axis = figure.subplots()
    plot_curves(axis, probe, "d_accuracy_heldout", window, log_scale=False, dashed=True)
    plot_curves(axis, probe, "d_accuracy", window, log_scale=False, label=False)
    axis.axhline(0.5, color="k", linewidth=0.8, linestyle=":")
    axis.set_ylabel("D's accuracy")
    axis.set_ylim(0.3, 1.02)
    axis.set_title(
        "Figure 1's claim and its negative control\n"
        "dashed: held-out images (never seen), solid: training images",
        fontsize=10,
    )
    axis.legend(fontsize=8)
    return figure


def draw_noise_figure(probe: pd.DataFrame, window: int) -> Figure:
    """Section 3, the figure the paper proposes but never draws: D's cost and the minimax gradient
    norm while a fresh D trains on noisy inputs, one curve per sigma, one column per snapshot."""
    swept = probe.dropna(subset=["sweep_noise_std"])
    snapshots = sorted(swept["snapshot_iteration"].unique())
    sigmas = sorted(swept["sweep_noise_std"].unique())
    figure = Figure(figsize=(4.2 * len(snapshots), 7), layout="constrained")
    axes = figure.subplots(2, len(snapshots), squeeze=False, sharey="row")
    colors = {sigma: cm.viridis(i / max(1, len(sigmas) - 1)) for i, sigma in enumerate(sigmas)}
    for column, snapshot in enumerate(snapshots):
        of_snapshot = swept[swept["snapshot_iteration"] == snapshot]
        for sigma in sigmas:
            rows = of_snapshot[of_snapshot["sweep_noise_std"] == sigma].sort_values("iteration")
            for row, measure in enumerate(("d_loss", "grad_norm_minimax")):
                y = rows[measure].to_numpy(dtype=float)
                axes[row, column].plot(rows["iteration"], y, color=colors[sigma], alpha=0.2, linewidth=0.7)
                axes[row, column].plot(
                    rows["iteration"],
                    running_mean(y, window, geometric=True),
                    color=colors[sigma],
                    linewidth=1.8,
                    label=f"$\\sigma$ = {sigma:g}",
                )
        axes[0, column].set_title(snapshot_label(of_snapshot), fontsize=10)
        for row in range(2):
            axes[row, column].set_yscale("log")
            axes[row, column].grid(True, alpha=0.3)
        axes[1, column].set_xlabel("discriminator iterations")
    axes[0, 0].set_ylabel("D's cost (noisy inputs)")
    axes[1, 0].set_ylabel(r"$\|\nabla_\theta\, E \log(1 - D(G_\theta(z) + \epsilon))\|$")
    axes[0, -1].legend(title="instance noise")
    figure.suptitle(
        r"Instance noise (Section 3): a fresh D trained on inputs + $\epsilon$, "
        r"$\epsilon \sim N(0, \sigma^2 I)$, "
        "against each frozen G"
    )
    return figure


def draw_noise_bound_figure(table: pd.DataFrame, *, dimension: int | None = None) -> Figure:
    """Theorem 3.3's bound against W1 measured between real and generated images, per sigma and snapshot,
    with the exact W1's real-vs-real floor and the data cube's diameter 2 sqrt(d) (when dimension is known):
    a bound above the diameter says nothing."""
    figure = Figure(figsize=(7, 5.6), layout="constrained")
    axis = figure.subplots()
    for index, (_, rows) in enumerate(table.groupby("snapshot_iteration")):
        plot_bound_rows(axis, rows.sort_values("noise_std"), f"C{index}")
    if dimension is not None:  # no two points of [-1, 1]^d are further apart, so neither are distributions
        axis.axhline(
            data_diameter(dimension),
            color="black",
            linewidth=1.2,
            label=rf"diameter $2\sqrt{{d}}$, d = {dimension}",
        )
    axis.set_xscale("symlog", linthresh=0.01)
    axis.set_yscale("log")
    axis.set_xlabel(r"instance noise $\sigma$ (data in [-1, 1])")
    axis.set_ylabel("distance (pixel space, Euclidean)")
    axis.set_title(
        r"Theorem 3.3: $W(P_r, P_g) \leq 2V^{1/2} + 2C\,JSD(P_{r+\epsilon} \| P_{g+\epsilon})^{1/2}$",
        fontsize=10,
    )
    axis.grid(True, which="major", alpha=0.3)
    figure.legend(*axis.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=7)
    return figure


def plot_bound_rows(axis, rows: pd.DataFrame, color: str) -> None:
    """One snapshot's curves against sigma: the bound, the exact and sliced W1, the real-vs-real floor."""
    label = snapshot_label(rows)
    curves = [
        ("bound", "o-", 1.0, 6, f"bound, {label}"),
        ("wasserstein_exact", "s--", 0.8, 4, f"exact empirical $W_1$ ({label})"),
        ("sliced_wasserstein", "^:", 0.8, 4, f"sliced $W_1$ ({label})"),
        ("exact_w1_real_real", "x-.", 0.6, 5, f"exact $W_1$ real vs real, the floor ({label})"),
    ]
    for column, style, alpha, size, label in curves:
        if column in rows and rows[column].notna().any():  # runs before the floor existed lack it
            axis.plot(
                rows["noise_std"], rows[column], style, color=color, alpha=alpha, markersize=size, label=label
            )


UPDATE_COSTS = {  # G's cost in updates.csv -> (colour, legend words) in the updates figure
    "minimax": ("C0", r"minimax $\log(1-D)$"),
    "nonsaturating": ("C3", r"$-\log D$"),
}


def draw_updates_figure(table: pd.DataFrame) -> Figure:
    """experiment=updates, from updates.csv alone: per snapshot a column; above, the change in exact W1 over
    its floor after the last k G steps (from k = 0; > 0: worse samples) against the stage of the frozen D it
    stepped against (symlog: the fresh D, stage 0, apart from the trained ones); below, at k = 0, the cosine
    of the cost's gradient with the transport direction. One line per cost."""
    changes = updates_changes(table)
    last_k = int(changes["k"].max())
    snapshots = sorted(changes["snapshot_iteration"].unique())
    figure = Figure(figsize=(4.4 * len(snapshots), 7), layout="constrained")
    axes = figure.subplots(2, len(snapshots), squeeze=False, sharex=True, sharey="row")
    for column, snapshot in enumerate(snapshots):
        rows = changes[changes["snapshot_iteration"] == snapshot]
        for cost, of_cost in rows.groupby("cost", sort=False):
            color, words = UPDATE_COSTS.get(str(cost), ("0.3", str(cost)))
            for row, (k, measure) in enumerate(((last_k, "w1_change"), (0, "transport_cosine"))):
                points = of_cost[of_cost["k"] == k].sort_values("d_stage")
                axes[row, column].plot(points["d_stage"], points[measure], "o-", color=color, label=words)
        axes[0, column].set_title(snapshot_label(rows), fontsize=10)
        for axis in axes[:, column]:
            axis.axhline(0, color="k", linewidth=0.8, linestyle=":")
            axis.set_xscale("symlog", linthresh=1)
            axis.set_xticks(sorted(rows["d_stage"].unique()))
            axis.set_xticklabels([f"{stage:g}" for stage in sorted(rows["d_stage"].unique())])
            axis.grid(True, alpha=0.3)
        axes[1, column].set_xlabel("D's training stage (D iterations; 0: the fresh D)")
    axes[0, 0].set_ylabel(f"change in $W_1$ / floor after {last_k} G steps")
    axes[1, 0].set_ylabel(r"cos(descent direction, transport direction), $k = 0$")
    axes[0, -1].legend(title="G's cost", fontsize=8)
    figure.suptitle(
        f"Do the gradients help? {last_k} G steps (Adam as in training) against a frozen D: "
        "> 0 worse samples, < 0 better",
        fontsize=11,
    )
    return figure


def draw_figures(
    run_dir: Path,
    *,
    figures: Sequence[str] = FIGURES[:3],
    window: int = 10,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Draw the named figures from a run's probe.csv (and noise.csv) into run_dir/figures; returns paths."""
    run_dir = Path(run_dir)
    probe = read_probe(run_dir)
    written = []
    critics = set(probe["critic"].dropna()) if "critic" in probe else {PAPER_CRITIC}
    if critics - DEFAULT_CRITICS:  # a run that probed other critics always shows them
        figures = list(dict.fromkeys([*figures, "critics", "critics_input"]))
    skipped = [name for name in figures if name in PAPER_CRITIC_FIGURES and PAPER_CRITIC not in critics]
    if skipped:
        log.info("plot: %s read critic=gan's rows, which this run has not: skipped", ", ".join(skipped))
    for name in [name for name in figures if name not in skipped]:
        if name in ("noise", "noise_bound") and (
            "sweep_noise_std" not in probe or probe["sweep_noise_std"].isna().all()
        ):
            log.warning("plot: %s needs a sigma sweep (experiment=noise); skipped", name)
            continue
        if name == "control" and CONTROL_SNAPSHOT not in set(probe["snapshot_iteration"]):
            log.warning("plot: control needs the negative control's probe (experiment=control); skipped")
            continue
        if name == "updates":
            if not (run_dir / "updates.csv").is_file():
                log.warning("plot: updates needs updates.csv (experiment=updates); skipped")
                continue
            written += save_figure(
                draw_updates_figure(pd.read_csv(run_dir / "updates.csv")), run_dir / "figures", name, formats
            )
            continue
        snapshots = snapshot_rows(probe)
        if name == "fig1":
            linear = without_sweep(critic_rows(probe, LINEAR_CRITIC))
            figure = draw_figure1(snapshots, window, linear[linear["snapshot_iteration"] != CONTROL_SNAPSHOT])

        elif name == "control":
            figure = draw_control_figure(noiseless_rows(probe), window)
        elif name == "noise":
            figure = draw_noise_figure(critic_rows(probe), window)
        elif name == "critics":
            table = run_dir / "critics.csv"
            figure = draw_critics_figure(probe, pd.read_csv(table) if table.is_file() else None, window)
        elif name == "critics_input":
            figure = draw_critics_input_figure(probe, window)
        elif name == "noise_bound":
            figure = draw_noise_bound_figure(
                pd.read_csv(run_dir / "noise.csv"), dimension=data_dimension(run_dir)
            )
        else:
            figure = draw_gradient_figure(snapshots, name, window)
        written += save_figure(figure, run_dir / "figures", name, formats)
    return written


def snapshot_epochs(run_dir: Path) -> dict[int, float]:
    """{G steps: epoch} of each snapshot, from the run's snapshots.csv (empty without one)."""
    path = Path(run_dir) / "snapshots.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    return dict(zip(table["iteration"].astype(int), table["epoch"].astype(float), strict=True))


def data_dimension(run_dir: Path) -> int | None:
    """d, the numbers per image, from the run's snapshots.csv (None without one)."""
    path = Path(run_dir) / "snapshots.csv"
    return int(pd.read_csv(path)["dimension"].iloc[0]) if path.is_file() else None


def save_figure(figure: Figure, folder: Path, name: str, formats: Sequence[str]) -> list[Path]:
    """Write folder/name.<fmt> for each format, and remove the figure's files in other formats: drawn
    earlier with other settings, they would contradict the new ones."""
    for stale in (folder / f"{name}.{fmt}" for fmt in FORMATS if fmt not in formats):
        if stale.is_file():
            stale.unlink()
            log.info("plot: removed %s (drawn earlier, maybe with other settings)", stale)
    return [
        atomic_write(
            folder / f"{name}.{fmt}", lambda handle, fmt=fmt: figure.savefig(handle, format=fmt, dpi=150)
        )
        for fmt in formats
    ]


def draw_samples_figure(run_dir: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """figures/samples.<fmt>: the sample grids of samples/iteration_NNNNNN.png side by side, one per
    snapshot, titled from snapshots.csv."""
    from PIL import Image

    grids = snapshot_files(Path(run_dir) / "samples", ".png")
    epochs = snapshot_epochs(run_dir)
    if not grids:
        return []
    figure = Figure(figsize=(3.2 * len(grids), 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(grids)))
    for axis, path in zip(axes, grids, strict=True):
        with Image.open(path) as image:
            axis.imshow(np.asarray(image.convert("RGB")), interpolation="nearest")
        iteration = snapshot_of(path)
        epoch = epochs.get(iteration)
        axis.set_title(
            f"G after {iteration} G steps"
            if epoch is None
            else f"G after {snapshot_words(iteration, epoch)}",
            fontsize=9,
        )
        axis.axis("off")
    figure.suptitle("Samples from one fixed z batch at each snapshot", fontsize=10)
    return save_figure(figure, Path(run_dir) / "figures", "samples", formats)
