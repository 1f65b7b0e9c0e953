"""Stage 3: Figures 1-3 from probe.csv alone (experiment=updates' figure from updates.csv alone);
`gan-repro-plot RUN_DIR` (cli.py) redraws a finished run.

Curves are centered running averages, as in the paper, with the raw logged values visible behind them.
A running average is drawn only where its window is full: a window that shrinks at the ends gives the last
points their own noise (the curve hooks at its end), and a trailing window shifts a falling curve to the
right; a full centered window has neither, and the raw points still reach both ends. Quantities on a log
axis (D's cost, gradient norms) are averaged in log space (a geometric running mean), so one spike cannot
hide a decay over orders of magnitude.
Every figure follows three rules: a snapshot has one colour (snapshot_colors), an axis is labelled in words
(columns.axis_label), and a footer says what was run (run_footer: dataset, image size, seeds, probe length,
commit), all read from the run folder's saved files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import cm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from omegaconf import OmegaConf

from gan_repro.columns import GRADIENT_NORMS, axis_label, columns_of, find_column
from gan_repro.files import LABEL_BAND, atomic_write
from gan_repro.report import (
    CLAIM_THRESHOLDS,
    CONTROL_SNAPSHOT,
    DEFAULT_CRITICS,
    FIGURES,
    FORMATS,
    LINEAR_CRITIC,
    MOMENTUM_CONTROL,
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
from gan_repro.runstate import ENVIRONMENT_NAME

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
CONTROL_COLOR = (0.3, 0.3, 0.3, 1.0)  # the negative control: grey, never a snapshot's colour


def snapshot_colors(snapshots: Iterable[float]) -> dict[float, tuple[float, float, float, float]]:
    """One colour per snapshot, for every figure: the k-th snapshot by G steps (a sweep's panels: by epoch)
    takes tab10's k-th colour (more than 10: evenly spaced on viridis, so no two share one); the negative
    control (CONTROL_SNAPSHOT) is grey. Pass all of a run's snapshots, so a figure showing some of them
    colours each as the others do."""
    ordered = sorted({float(s) for s in snapshots if float(s) != CONTROL_SNAPSHOT})
    palette = matplotlib.colormaps["tab10"].colors
    colors = {
        s: (*palette[k], 1.0) if len(ordered) <= len(palette) else cm.viridis(k / (len(ordered) - 1))
        for k, s in enumerate(ordered)
    }
    return {**colors, float(CONTROL_SNAPSHOT): CONTROL_COLOR}


def colors_of(rows: pd.DataFrame, colors: Mapping[float, tuple] | None) -> Mapping[float, tuple]:
    """The colours given, or those of the rows' own snapshots (a figure drawn without its run folder)."""
    return colors if colors is not None else snapshot_colors(rows["snapshot_iteration"].unique())


def running_mean(values: np.ndarray, window: int, *, geometric: bool = False) -> np.ndarray:
    """Centered running mean over w = 2h+1 points, only where the window is full: point i is the mean of
    points i-h..i+h when all w are finite, NaN otherwise (the first and last h points among them: no point
    averages a partial window); geometric = mean of logs. h = window//2, less for a series too short for it
    (then the whole curve uses the smaller window, and its middle point or points are drawn)."""
    values = np.asarray(values, dtype=float)
    series = np.log(np.clip(values, np.finfo(float).tiny, None)) if geometric else values
    count = len(series)
    half = max(0, min(window // 2, (count - 1) // 2))
    smoothed = np.full(count, np.nan)
    finite = np.isfinite(series)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, series, 0.0))])  # prefix sums, (n + 1,)
    counts = np.concatenate([[0], np.cumsum(finite)])
    centers = np.arange(half, count - half)  # the points whose whole window lies inside the series
    total = sums[centers + half + 1] - sums[centers - half]
    full = counts[centers + half + 1] - counts[centers - half] == 2 * half + 1
    smoothed[centers] = np.where(full, total / (2 * half + 1), np.nan)
    return np.exp(smoothed) if geometric else smoothed


def snapshot_label(rows: pd.DataFrame) -> str:
    """A snapshot's rows in words: 'G after epoch 10 (900 G steps)', or the control's name."""
    iteration, epoch = int(rows["snapshot_iteration"].iloc[0]), float(rows["snapshot_epoch"].iloc[0])
    words = snapshot_words(iteration, epoch)
    return words if iteration == CONTROL_SNAPSHOT else f"G after {words}"


def saved_config(folder: Path) -> dict:
    """A run folder's config.yaml as plain values (empty without one)."""
    path = Path(folder) / "config.yaml"
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True) if path.is_file() else {}


def run_facts(folder: Path) -> dict[str, str]:
    """What a figure's footer says of one run folder, from config.yaml and environment.json alone."""
    config = saved_config(folder)
    dataset, probe = config.get("dataset") or {}, config.get("probe") or {}
    size = dataset.get("image_size")
    environment_path = Path(folder) / ENVIRONMENT_NAME
    environment = json.loads(environment_path.read_text()) if environment_path.is_file() else None
    if environment is None:
        commit = "not recorded"
    elif environment.get("git_commit") is None:
        commit = "unknown (not run from a git checkout)"
    else:
        commit = environment["git_commit"][:10] + (
            " (uncommitted changes)" if environment["git_dirty"] else ""
        )
    return {
        "dataset": str(dataset.get("name", "unknown")),
        "image size": f"{size}x{size} px" if size is not None else "unknown",
        "seed": str(config.get("seed", "unknown")),
        "probe": probe_words(probe, config.get("critic") or {}),
        "commit": commit,
    }


def probe_words(probe: dict, critics: dict) -> str:
    """The probe's length in words, with each critic that had its own (critic.<name>.iterations):
    '500 D iterations (wgan, wgan_gp: 2000)'."""
    if "iterations" not in probe:
        return "unknown"
    own: dict[int, list[str]] = {}
    for name, node in critics.items():
        length = (node or {}).get("iterations")
        if length is not None and length != probe["iterations"]:
            own.setdefault(int(length), []).append(str(name))
    extra = "; ".join(f"{', '.join(names)}: {length}" for length, names in own.items())
    return f"{probe['iterations']} D iterations" + (f" ({extra})" if extra else "")


def run_footer(folders: Sequence[Path]) -> str:
    """A figure's footer: dataset, image size, seed(s), probe length and commit of the runs drawn (a sweep:
    each value once, in order, e.g. 'seeds 0, 1, 2')."""
    facts = [run_facts(folder) for folder in folders]
    parts = []
    for name in ("dataset", "image size", "seed", "probe", "commit"):
        values = list(dict.fromkeys(fact[name] for fact in facts))
        if all(value.lstrip("-").isdigit() for value in values):  # seeds in numeric order: 0, 1, 2, 10
            values.sort(key=int)
        plural = {"seed": "seeds", "dataset": "datasets", "commit": "commits"}.get(name, name)
        parts.append(f"{plural if len(values) > 1 else name} {', '.join(values)}")
    return " | ".join(parts)


def add_footer(figure: Figure, text: str, *, warning: str | None = None) -> Figure:
    """The footer under the figure, small and grey (a supxlabel: the constrained layout keeps it clear of the
    axes' labels); with a warning, the warning above it and both in red."""
    figure.supxlabel(f"{warning}\n{text}" if warning else text, fontsize=7, color="C3" if warning else "0.35")
    return figure


def plot_curves(
    axis,
    probe: pd.DataFrame,
    column: str,
    window: int,
    *,
    dashed: bool = False,
    label: bool = True,
    colors: Mapping[float, tuple] | None = None,
) -> None:
    """Per snapshot, in its colour, its raw logged points and their running average (dashed: a second
    quantity); a column that spans orders of magnitude (columns.py's log_scale) on a log axis, its running
    average geometric."""
    colors, log_scale = colors_of(probe, colors), find_column(column).log_scale
    for snapshot, rows in probe.groupby("snapshot_iteration"):
        label_text = snapshot_label(rows)
        rows = rows.sort_values("iteration").dropna(subset=[column])
        color = colors[float(snapshot)]
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


def draw_figure1(
    probe: pd.DataFrame,
    window: int,
    linear: pd.DataFrame | None = None,
    *,
    colors: Mapping[float, tuple] | None = None,
) -> Figure:
    """Figure 1: D's cost (log scale) and accuracy while a fresh D trains against a frozen G; solid on fresh
    training-split batches, dashed on held-out real images (never in a D step); dotted, thin: the linear
    control's held-out accuracy (critic=linear), where the run has it."""
    colors = colors_of(probe, colors)
    figure = Figure(figsize=(11, 4.4), layout="constrained")
    error_axis, accuracy_axis = figure.subplots(1, 2)
    for axis, column in ((error_axis, "d_loss"), (accuracy_axis, "d_accuracy")):
        plot_curves(axis, probe, column, window, colors=colors)
        if f"{column}_heldout" in probe:
            plot_curves(axis, probe, f"{column}_heldout", window, dashed=True, label=False, colors=colors)
        axis.legend(title="solid: training images, dashed: held out", title_fontsize=8, fontsize=8)
    if linear is not None and len(linear):
        for snapshot, rows in linear.groupby("snapshot_iteration"):
            rows = rows.sort_values("iteration")
            smoothed = running_mean(rows["d_accuracy_heldout"].to_numpy(dtype=float), window)
            accuracy_axis.plot(
                rows["iteration"], smoothed, color=colors[float(snapshot)], linestyle=":", linewidth=1.2
            )
        accuracy_axis.plot([], [], color="0.3", linestyle=":", label="linear D on pixels, held out")
        accuracy_axis.legend(title="solid: training images, dashed: held out", title_fontsize=8, fontsize=8)
    error_axis.set_ylabel(axis_label("d_loss"))
    error_axis.set_title("Figure 1: discriminator error")
    accuracy_axis.set_ylabel(axis_label("d_accuracy"))
    accuracy_axis.set_title("Figure 1: discriminator accuracy")
    return figure


def draw_gradient_figure(
    probe: pd.DataFrame, figure_name: str, window: int, *, colors: Mapping[float, tuple] | None = None
) -> Figure:
    """Figures 2 and 3: the generator's gradient norm (log scale) as the fresh D trains, from the fresh D's
    K-batch mean (circle, iteration 0); Figure 3 adds the gradient's spread over K z batches."""
    column, title = GRADIENT_FIGURES[figure_name]
    spread = column.replace("grad_norm", "grad_spread")
    second = figure_name == "fig3" and spread in probe and probe[spread].notna().any()
    figure = Figure(figsize=(11 if second else 6.5, 4.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, 2 if second else 1))
    plot_curves(axes[0], probe, column, window, colors=colors)
    axes[0].set_ylabel(axis_label(column))
    axes[0].set_title(title, fontsize=10)
    axes[0].legend()
    if second:
        points = max(1, window // 5)  # variance points are sparse (about 20 per probe): a short average
        plot_curves(axes[1], probe, spread, points, colors=colors)
        axes[1].set_ylabel(axis_label(spread))
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
            for column in [
                c
                for c in columns_of("probe.csv", group=GRADIENT_NORMS)
                if c in curves and curves[c].notna().any()
            ]:
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
        height = np.where(np.isfinite(smoothed[at]), smoothed[at], y[at])  # the mean is blank near the ends
        axis.plot(x[at], height, "o", color=color)


def draw_critics_input_figure(
    probe: pd.DataFrame, window: int, *, colors: Mapping[float, tuple] | None = None
) -> Figure:
    """The quantity R1 and the gradient penalty regularize: the mean ||grad_x D(x)|| at real samples
    (solid) and at generated ones (dashed), per critic and snapshot (log scale)."""
    figure, panels = critic_panels(
        probe, r"$\|\nabla_x D(x)\|$ at real (solid) and generated (dashed) samples, per critic"
    )
    points = max(1, window // 5)  # measured at the variance points (about 20 per probe): a short average
    for name, rows, axis in panels:
        plot_curves(axis, rows, "input_grad_norm_real", points, colors=colors)
        plot_curves(axis, rows, "input_grad_norm_fake", points, dashed=True, label=False, colors=colors)
        axis.set_title(f"critic={name}", fontsize=9)
        axis.set_ylabel(r"input gradient norm $\|\nabla_x D(x)\|$")
        axis.legend(fontsize=7)
    return figure


def draw_control_figure(
    probe: pd.DataFrame, window: int, *, colors: Mapping[float, tuple] | None = None
) -> Figure:
    """The negative control beside the real probes: held-out accuracy (dashed) and training-batch accuracy."""
    figure = Figure(figsize=(7, 4.6), layout="constrained")
    axis = figure.subplots()
    plot_curves(axis, probe, "d_accuracy_heldout", window, dashed=True, colors=colors)
    plot_curves(axis, probe, "d_accuracy", window, label=False, colors=colors)
    axis.axhline(0.5, color="k", linewidth=0.8, linestyle=":")
    axis.set_ylabel(axis_label("d_accuracy"))
    axis.set_ylim(0.3, 1.02)
    axis.set_title(
        "Figure 1's claim and its negative control\n"
        "dashed: held-out images (never seen), solid: training images",
        fontsize=10,
    )
    axis.legend(fontsize=8)
    return figure


def draw_noise_figure(
    probe: pd.DataFrame, window: int, *, colors: Mapping[float, tuple] | None = None
) -> Figure:
    """Section 3, the figure the paper proposes but never draws: D's cost and the minimax gradient
    norm while a fresh D trains on noisy inputs, one curve per sigma (viridis), one column per snapshot
    (titled in the snapshot's colour)."""
    swept = probe.dropna(subset=["sweep_noise_std"])
    colors = colors_of(swept, colors)
    snapshots = sorted(swept["snapshot_iteration"].unique())
    sigmas = sorted(swept["sweep_noise_std"].unique())
    figure = Figure(figsize=(4.2 * len(snapshots), 7), layout="constrained")
    axes = figure.subplots(2, len(snapshots), squeeze=False, sharey="row")
    sigma_colors = {sigma: cm.viridis(i / max(1, len(sigmas) - 1)) for i, sigma in enumerate(sigmas)}
    for column, snapshot in enumerate(snapshots):
        of_snapshot = swept[swept["snapshot_iteration"] == snapshot]
        for sigma in sigmas:
            rows = of_snapshot[of_snapshot["sweep_noise_std"] == sigma].sort_values("iteration")
            for row, measure in enumerate(("d_loss", "grad_norm_minimax")):
                y = rows[measure].to_numpy(dtype=float)
                axis = axes[row, column]
                axis.plot(rows["iteration"], y, color=sigma_colors[sigma], alpha=0.2, linewidth=0.7)
                axis.plot(
                    rows["iteration"],
                    running_mean(y, window, geometric=True),
                    color=sigma_colors[sigma],
                    linewidth=1.8,
                    label=f"$\\sigma$ = {sigma:g}",
                )
        axes[0, column].set_title(snapshot_label(of_snapshot), fontsize=10, color=colors[float(snapshot)])
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


BOUND_CURVES = (  # noise.csv's column -> (marker and line style, alpha, marker size, legend words)
    ("bound", "o-", 1.0, 6, r"bound $2V^{1/2} + 2C\,JSD^{1/2}$"),
    ("wasserstein_exact", "s--", 0.8, 4, "exact empirical $W_1$"),
    ("sliced_wasserstein", "^:", 0.8, 4, "sliced $W_1$"),
    ("exact_w1_real_real", "x-.", 0.6, 5, "exact $W_1$ real vs real (the floor)"),
)


def draw_noise_bound_figure(
    table: pd.DataFrame, *, dimension: int | None = None, colors: Mapping[float, tuple] | None = None
) -> Figure:
    """Theorem 3.3's bound against W1 measured between real and generated images, per sigma and snapshot,
    with the exact W1's real-vs-real floor and the data cube's diameter 2 sqrt(d) (when dimension is known):
    a bound above the diameter says nothing. sigma on a log axis; sigma = 0 (no noise) on its own narrow
    axis at the left, past an axis break. The legend: a colour per snapshot, a line style per quantity."""
    colors = colors_of(table, colors)
    figure = Figure(figsize=(10, 5.2), layout="constrained")
    has_zero = bool((table["noise_std"] == 0).any())
    grid = figure.add_gridspec(1, 2, width_ratios=[1, 7], wspace=0.02) if has_zero else None
    axis = figure.add_subplot(grid[0, 1] if has_zero else 111)  # first: figure.axes[0] is the sigma > 0 axis
    zero_axis = figure.add_subplot(grid[0, 0], sharey=axis) if has_zero else None
    snapshots = []
    for snapshot, rows in table.groupby("snapshot_iteration"):
        rows = rows.sort_values("noise_std")
        snapshots.append((colors[float(snapshot)], snapshot_label(rows)))
        plot_bound_rows(axis, rows[rows["noise_std"] > 0], colors[float(snapshot)])
        if zero_axis is not None:
            plot_bound_rows(zero_axis, rows[rows["noise_std"] == 0], colors[float(snapshot)])
    diameter = {"color": "0.55", "linewidth": 2.5, "alpha": 0.7}
    if dimension is not None:  # no two points of [-1, 1]^d are further apart, so neither are distributions
        for each in (axis, zero_axis) if zero_axis is not None else (axis,):
            each.axhline(
                data_diameter(dimension), **diameter, label=rf"diameter $2\sqrt{{d}}$, d = {dimension}"
            )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel(r"instance noise $\sigma$ (data in [-1, 1]; log scale)")
    axis.grid(True, which="major", alpha=0.3)
    if zero_axis is not None:
        break_axis(zero_axis, axis)
    (zero_axis or axis).set_ylabel("distance (pixel space, Euclidean)")
    axis.set_title(
        r"Theorem 3.3: $W(P_r, P_g) \leq 2V^{1/2} + 2C\,JSD(P_{r+\epsilon} \| P_{g+\epsilon})^{1/2}$",
        fontsize=10,
    )
    handles = [Line2D([], [], color=color, linewidth=2.5, label=label) for color, label in snapshots]
    handles += [
        Line2D(
            [], [], color="k", linestyle=style[1:], marker=style[0], alpha=alpha, markersize=size, label=words
        )
        for column, style, alpha, size, words in BOUND_CURVES
        if column in table and table[column].notna().any()
    ]
    if dimension is not None:
        handles.append(
            Line2D([], [], **diameter, label=rf"diameter $2\sqrt{{d}}$ of $[-1, 1]^d$, d = {dimension}")
        )
    figure.legend(handles=handles, loc="outside right upper", fontsize=7)
    return figure


def break_axis(zero_axis, axis) -> None:
    """sigma = 0 on the narrow left axis, apart from the log axis on its right: one tick, no shared spine,
    and a pair of slashes marking the break."""
    zero_axis.set_xlim(-1, 1)
    zero_axis.set_xticks([0], ["0"])
    zero_axis.grid(True, axis="y", which="major", alpha=0.3)
    zero_axis.spines["right"].set_visible(False)
    axis.spines["left"].set_visible(False)
    axis.tick_params(axis="y", which="both", left=False, labelleft=False)
    slash = {
        "marker": [(-1, -1.5), (1, 1.5)],
        "markersize": 8,
        "linestyle": "none",
        "color": "k",
        "clip_on": False,
    }
    zero_axis.plot([1, 1], [0, 1], transform=zero_axis.transAxes, **slash)
    axis.plot([0, 0], [0, 1], transform=axis.transAxes, **slash)


def plot_bound_rows(axis, rows: pd.DataFrame, color: tuple) -> None:
    """One snapshot's curves against sigma, in its colour: the bound, the exact and sliced W1, the
    real-vs-real floor (each line labelled with the quantity and the snapshot)."""
    label = snapshot_label(rows) if len(rows) else ""
    for column, style, alpha, size, words in BOUND_CURVES:
        if column in rows and rows[column].notna().any():  # runs before the floor existed lack it
            axis.plot(
                rows["noise_std"],
                rows[column],
                style,
                color=color,
                alpha=alpha,
                markersize=size,
                label=f"{words} ({label})",
            )


UPDATE_COSTS = {  # the paper's D's costs in updates.csv -> (marker and line style, legend words)
    "minimax": ("o-", r"minimax $\log(1-D)$"),
    "nonsaturating": ("s--", r"$-\log D$"),
}
CRITIC_STYLES = ("^:", "v-.", "D:", "P-.", "X:", "*-.", "h:")  # every other critic's own cost, in turn


def update_style(critic: str, cost: str, others: int) -> tuple[str, str]:
    """The updates figure's (marker and line style, legend words) of one arm: the paper's D's two costs as
    Figs. 2-3 name them, the `others`-th other critic (or cost) by its name and cost."""
    if critic == PAPER_CRITIC and cost in UPDATE_COSTS:
        return UPDATE_COSTS[cost]
    return CRITIC_STYLES[others % len(CRITIC_STYLES)], f"{critic}: {cost}"


def draw_updates_figure(table: pd.DataFrame, *, colors: Mapping[float, tuple] | None = None) -> Figure:
    """experiment=updates, from updates.csv alone: per snapshot a column, in its colour; above, the change in
    exact W1 over its floor after the last k G steps (from k = 0; > 0: worse samples) against the stage of the
    frozen D it stepped against (symlog: the fresh D, stage 0, apart from the trained ones); below, at k = 0,
    the cosine of the cost's gradient with the transport direction. One line style per critic and cost; the
    momentum control (Adam on a zero gradient, no D) as a grey level line: the change without a cost."""
    changes = updates_changes(table)
    colors = colors_of(changes, colors)
    last_k = int(changes["k"].max())
    snapshots = sorted(changes["snapshot_iteration"].unique())
    figure = Figure(figsize=(4.4 * len(snapshots), 7), layout="constrained")
    axes = figure.subplots(2, len(snapshots), squeeze=False, sharex=True, sharey="row")
    costs = {}
    for column, snapshot in enumerate(snapshots):
        rows = changes[changes["snapshot_iteration"] == snapshot]
        control = rows["critic"] == MOMENTUM_CONTROL[0]
        momentum = rows[control & (rows["k"] == last_k)]
        rows = rows[~control]  # the arms with a D
        for change in momentum["w1_change"]:
            axes[0, column].axhline(change, color="0.5", linewidth=1.5, linestyle="--")
        for (critic, cost), of_cost in rows.groupby(["critic", "cost"], sort=False):
            arm = (str(critic), str(cost))
            if arm not in costs:
                others = sum(1 for name, _ in costs if name != PAPER_CRITIC)  # the other critics' arms so far
                costs[arm] = update_style(*arm, others)
            style, words = costs[arm]
            for row, (k, measure) in enumerate(((last_k, "w1_change"), (0, "transport_cosine"))):
                points = of_cost[of_cost["k"] == k].sort_values("d_stage")
                axes[row, column].plot(
                    points["d_stage"], points[measure], style, color=colors[float(snapshot)], label=words
                )
        axes[0, column].set_title(snapshot_label(rows), fontsize=10, color=colors[float(snapshot)])
        for axis in axes[:, column]:
            axis.axhline(0, color="k", linewidth=0.8, linestyle=":")
            axis.set_xscale("symlog", linthresh=1)
            axis.set_xticks(sorted(rows["d_stage"].unique()))
            axis.set_xticklabels([f"{stage:g}" for stage in sorted(rows["d_stage"].unique())])
            axis.grid(True, alpha=0.3)
        axes[1, column].set_xlabel("D's training stage (D iterations; 0: the fresh D)")
    axes[0, 0].set_ylabel(f"change in $W_1$ / floor after {last_k} G steps")
    axes[1, 0].set_ylabel(r"cos(descent direction, transport direction), $k = 0$")
    control = [Line2D([], [], color="0.5", linewidth=1.5, linestyle="--", label="Adam momentum alone (no D)")]
    axes[0, -1].legend(
        handles=[
            *(
                Line2D([], [], color="k", linestyle=style[1:], marker=style[0], label=words)
                for style, words in costs.values()
            ),
            *(control if (changes["critic"] == MOMENTUM_CONTROL[0]).any() else []),
        ],
        title="G's cost"
        if set(changes["critic"]) - {MOMENTUM_CONTROL[0]} == {PAPER_CRITIC}
        else "critic: G's cost",
        fontsize=8,
    )
    figure.suptitle(
        f"Do the gradients help? {last_k} G steps (Adam as in training) against a frozen D: "
        "> 0 worse samples, < 0 better",
        fontsize=11,
    )
    return figure


def run_colors(run_dir: Path, shown: Iterable[float] = ()) -> dict[float, tuple]:
    """snapshot_colors of all the run's snapshots (snapshots.csv's), and of any shown that it lacks."""
    return snapshot_colors([*snapshot_epochs(run_dir), *shown])


def draw_run_figure(
    name: str, run_dir: Path, probe: pd.DataFrame, window: int, colors: Mapping[float, tuple]
) -> Figure | None:
    """One of a run's figures (FIGURES' names), or None with a log line where the run lacks its data."""
    if name in ("noise", "noise_bound") and (
        "sweep_noise_std" not in probe or probe["sweep_noise_std"].isna().all()
    ):
        log.warning("plot: %s needs a sigma sweep (experiment=noise); skipped", name)
        return None
    if name == "control" and CONTROL_SNAPSHOT not in set(probe["snapshot_iteration"]):
        log.warning("plot: control needs the negative control's probe (experiment=control); skipped")
        return None
    if name == "updates":
        if not (run_dir / "updates.csv").is_file():
            log.warning("plot: updates needs updates.csv (experiment=updates); skipped")
            return None
        return draw_updates_figure(pd.read_csv(run_dir / "updates.csv"), colors=colors)
    snapshots = snapshot_rows(probe)
    if name == "fig1":
        linear = without_sweep(critic_rows(probe, LINEAR_CRITIC))
        linear = linear[linear["snapshot_iteration"] != CONTROL_SNAPSHOT]
        return draw_figure1(snapshots, window, linear, colors=colors)
    if name == "control":
        return draw_control_figure(noiseless_rows(probe), window, colors=colors)
    if name == "noise":
        return draw_noise_figure(critic_rows(probe), window, colors=colors)
    if name == "critics":
        table = run_dir / "critics.csv"
        return draw_critics_figure(probe, pd.read_csv(table) if table.is_file() else None, window)
    if name == "critics_input":
        return draw_critics_input_figure(probe, window, colors=colors)
    if name == "noise_bound":
        table = pd.read_csv(run_dir / "noise.csv")
        return draw_noise_bound_figure(table, dimension=data_dimension(run_dir), colors=colors)
    return draw_gradient_figure(snapshots, name, window, colors=colors)


def draw_run_figures(
    run_dir: Path, *, figures: Sequence[str] = FIGURES[:3], window: int = 10
) -> dict[str, Figure]:
    """The named figures that a run's probe.csv (and noise.csv, updates.csv) can draw, by name, each with the
    run's footer and its snapshots in their colours."""
    run_dir = Path(run_dir)
    probe = read_probe(run_dir)
    critics = set(probe["critic"].dropna()) if "critic" in probe else {PAPER_CRITIC}
    if critics - DEFAULT_CRITICS:  # a run that probed other critics always shows them
        figures = list(dict.fromkeys([*figures, "critics", "critics_input"]))
    skipped = [name for name in figures if name in PAPER_CRITIC_FIGURES and PAPER_CRITIC not in critics]
    if skipped:
        log.info("plot: %s read critic=gan's rows, which this run has not: skipped", ", ".join(skipped))
    colors, footer = run_colors(run_dir, probe["snapshot_iteration"].unique()), run_footer([run_dir])
    drawn = {}
    for name in [name for name in figures if name not in skipped]:
        figure = draw_run_figure(name, run_dir, probe, window, colors)
        if figure is not None:
            drawn[name] = add_footer(figure, footer)
    return drawn


def draw_figures(
    run_dir: Path,
    *,
    figures: Sequence[str] = FIGURES[:3],
    window: int = 10,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Draw the named figures from a run's probe.csv (and noise.csv) into run_dir/figures; returns paths."""
    drawn = draw_run_figures(run_dir, figures=figures, window=window)
    return [
        path
        for name, figure in drawn.items()
        for path in save_figure(figure, Path(run_dir) / "figures", name, formats)
    ]


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


def samples_figure(run_dir: Path) -> Figure | None:
    """The sample grids of samples/iteration_NNNNNN.png side by side, one per snapshot, each titled once (in
    its snapshot's colour, from snapshots.csv; the grid's own label band cut off), with the run's footer;
    None without grids."""
    from PIL import Image

    grids = snapshot_files(Path(run_dir) / "samples", ".png")
    if not grids:
        return None
    epochs = snapshot_epochs(run_dir)
    colors = run_colors(run_dir, [snapshot_of(path) for path in grids])
    pictures = []
    for path in grids:
        with Image.open(path) as image:
            pictures.append(np.asarray(image.convert("RGB"))[LABEL_BAND:])  # (H, W, 3), the label cut off
    height, width = pictures[0].shape[:2]
    figure = Figure(figsize=(3.2 * len(grids), 3.2 * height / width + 1.0), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(grids)))
    for axis, path, picture in zip(axes, grids, pictures, strict=True):
        axis.imshow(picture, interpolation="nearest")
        iteration = snapshot_of(path)
        epoch = epochs.get(iteration)
        words = f"{iteration} G steps" if epoch is None else snapshot_words(iteration, epoch)
        axis.set_title(f"G after {words}", fontsize=9, color=colors[float(iteration)])
        axis.axis("off")
    figure.suptitle("Samples from one fixed z batch at each snapshot", fontsize=10)
    return add_footer(figure, run_footer([Path(run_dir)]))


def draw_samples_figure(run_dir: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """figures/samples.<fmt>: samples_figure, written (nothing without grids)."""
    figure = samples_figure(run_dir)
    return [] if figure is None else save_figure(figure, Path(run_dir) / "figures", "samples", formats)
