"""Figures a reader can trust, read from the figure objects (never from pixels): one colour per snapshot in
every figure, running means drawn only where their window is full, noise_bound's sigma on a log axis with
sigma = 0 apart and a short legend, axes labelled in words, one title per sample grid, and a footer with the
dataset, image size, seeds, probe length and commit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from gan_repro.aggregate import aggregate, collect, draw_aggregate_figure
from gan_repro.columns import axis_label, columns_of
from gan_repro.files import LABEL_BAND
from gan_repro.plot import (
    CONTROL_COLOR,
    draw_run_figures,
    probe_words,
    run_footer,
    running_mean,
    samples_figure,
    snapshot_colors,
)
from tests.helpers import mark_finished

pytestmark = pytest.mark.unit

SNAPSHOTS = {24: 1.0, 48: 2.0, 72: 3.0}  # G steps: epoch
ITERATIONS = 21  # logged points per probe unit
WINDOW = 5  # plot window: 2 * 2 + 1 points
RUN_FIGURES = ["fig1", "fig2", "fig3", "control", "critics_input", "updates"]
CONFIG = "seed: {seed}\ndataset:\n  name: digits\n  image_size: 16\nprobe:\n  iterations: 20\n"
ENVIRONMENT = {"git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False}


def probe_rows(snapshot: int, sigma: float | None = None, seed: int = 0) -> list[dict]:
    """One probe unit's rows: a falling cost and minimax norm, a growing -log D norm, and a last point far off
    the trend (a running mean whose window shrinks at the end would bend towards it)."""
    rows = []
    for i in range(ITERATIONS):
        last = i == ITERATIONS - 1
        decay = np.exp(-i / 4) * (1 + snapshot / 100 + seed / 10)
        rows.append(
            {
                "snapshot_iteration": snapshot,
                "snapshot_epoch": SNAPSHOTS.get(snapshot, 0.0),
                "iteration": i,
                "d_loss": decay * (100 if last else 1),
                "d_accuracy": 0.5 + 0.5 * (1 - np.exp(-i / 3)),
                "d_loss_heldout": decay,
                "d_accuracy_heldout": 0.5 + 0.5 * (1 - np.exp(-i / 3)),
                "grad_norm_minimax": np.nan if snapshot == 0 else decay * (100 if last else 1),
                "grad_norm_nonsaturating": np.nan if snapshot == 0 else 1 + i,
                "grad_spread_nonsaturating": np.nan if snapshot == 0 else 0.1 * (1 + i),
                "input_grad_norm_real": 1.0 + i,
                "input_grad_norm_fake": 2.0 + i,
                "noise_std": sigma or 0.0,
                "sweep_noise_std": sigma,
                "critic": "gan",
            }
        )
    return rows


def write_run(folder: Path, probe: list[dict], seed: int = 0) -> Path:
    """A run folder by hand: config.yaml, environment.json, snapshots.csv, probe.csv, sample grids, and
    updates.csv for two of its three snapshots (colours come from the run's snapshots, not the figure's)."""
    (folder / "samples").mkdir(parents=True)
    (folder / "config.yaml").write_text(CONFIG.format(seed=seed))
    (folder / "environment.json").write_text(json.dumps(ENVIRONMENT))
    pd.DataFrame({"iteration": list(SNAPSHOTS), "epoch": list(SNAPSHOTS.values()), "dimension": 256}).to_csv(
        folder / "snapshots.csv", index=False
    )
    pd.DataFrame(probe).to_csv(folder / "probe.csv", index=False)
    for snapshot in SNAPSHOTS:
        grid = np.full((LABEL_BAND + 18, 36, 3), 128, np.uint8)
        grid[:LABEL_BAND] = 0  # the label band: black here, so a figure that keeps it shows it
        Image.fromarray(grid).save(folder / "samples" / f"iteration_{snapshot:06d}.png")
    updates = [
        {
            "snapshot_iteration": snapshot,
            "snapshot_epoch": SNAPSHOTS[snapshot],
            "critic": "gan",
            "d_stage": stage,
            "cost": cost,
            "k": k,
            "wasserstein_exact_over_floor": 1.0 + k * stage / 100,
            "transport_cosine": 0.1,
        }
        for snapshot in (48, 72)
        for stage in (0, 10)
        for cost in ("minimax", "nonsaturating")
        for k in (0, 5)
    ]
    pd.DataFrame(updates).to_csv(folder / "updates.csv", index=False)
    return mark_finished(folder)


@pytest.fixture
def plain_run(tmp_path: Path) -> Path:
    """A run with the negative control and three snapshots."""
    return write_run(tmp_path / "plain", [row for s in (0, *SNAPSHOTS) for row in probe_rows(s)])


@pytest.fixture
def noise_run(tmp_path: Path) -> Path:
    """A sigma sweep (0 and 0.1) over the three snapshots, with its noise.csv."""
    probe = [row for s in SNAPSHOTS for sigma in (0.0, 0.1) for row in probe_rows(s, sigma)]
    folder = write_run(tmp_path / "noise", probe)
    pd.DataFrame(
        [
            {
                "snapshot_iteration": snapshot,
                "snapshot_epoch": epoch,
                "noise_std": sigma,
                "bound": 40.0 + sigma,
                "wasserstein_exact": 11.0,
                "sliced_wasserstein": 0.5,
                "exact_w1_real_real": 5.0,
            }
            for snapshot, epoch in SNAPSHOTS.items()
            for sigma in (0.0, 0.01, 0.1)
        ]
    ).to_csv(folder / "noise.csv", index=False)
    return folder


def run_figures(plain_run: Path, noise_run: Path) -> dict[str, Figure]:
    """Every figure of both runs, the samples figure with them."""
    figures = {
        **draw_run_figures(plain_run, figures=RUN_FIGURES, window=WINDOW),
        **draw_run_figures(noise_run, figures=["noise", "noise_bound"], window=WINDOW),
        "samples": samples_figure(plain_run),
    }
    assert set(figures) == {*RUN_FIGURES, "noise", "noise_bound", "samples"}  # none skipped
    return figures


def colours_of(figure: Figure, words: str) -> set[tuple[float, ...]]:
    """The colours of every line, legend entry and title whose label or text names a snapshot."""
    lines = [(str(line.get_label()), line) for axis in figure.axes for line in axis.get_lines()]
    legends = [*figure.legends, *(axis.get_legend() for axis in figure.axes if axis.get_legend())]
    entries = [
        (text.get_text(), handle)
        for legend in legends
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    ]
    named = {to_rgba(artist.get_color()) for label, artist in lines + entries if words in label}
    titles = [axis.title for axis in figure.axes]
    return named | {to_rgba(t.get_color()) for t in titles if words in t.get_text()}


# ----------------------------------------------------------------------------- one colour per snapshot
def test_a_snapshot_has_one_colour_in_every_figure(plain_run: Path, noise_run: Path) -> None:
    figures = run_figures(plain_run, noise_run)
    expected = snapshot_colors(SNAPSHOTS)
    for snapshot, epoch in SNAPSHOTS.items():
        words = f"epoch {int(epoch)} ({snapshot} G steps)"
        for name, figure in figures.items():
            if name == "updates" and snapshot == 24:
                continue  # updates.csv holds only the later two snapshots
            assert colours_of(figure, words) == {expected[snapshot]}, (name, words)
    assert len(set(expected.values())) == len(SNAPSHOTS) + 1  # three snapshots and the control, all apart
    assert colours_of(figures["control"], "control: real images") == {CONTROL_COLOR}


def test_epoch_1_is_the_same_colour_in_fig1_and_the_control_figure(plain_run: Path) -> None:
    """The bug this replaces: colours followed the groupby index, so the control (G steps 0) shifted them."""
    figures = draw_run_figures(plain_run, figures=["fig1", "control"], window=WINDOW)
    fig1, control = (colours_of(figures[name], "epoch 1 (24 G steps)") for name in ("fig1", "control"))
    assert fig1 == control and len(fig1) == 1


def test_snapshot_colours_follow_g_steps_not_the_figure() -> None:
    everything, later = snapshot_colors([0, 24, 48, 72]), snapshot_colors([72, 24, 48])
    assert everything[72.0] == later[72.0] and everything[0.0] == CONTROL_COLOR
    many = snapshot_colors(range(1, 15))  # more than the qualitative palette's 10: still one each
    assert len(set(many.values())) == 15


# ----------------------------------------------------------------------------- no end hook
@pytest.mark.parametrize("geometric", [False, True])
def test_running_mean_never_averages_a_partial_window(geometric: bool) -> None:
    values = np.array([9.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1000.0])
    smoothed = running_mean(values, 4, geometric=geometric)  # window 2 * 2 + 1
    assert np.isnan(smoothed[:2]).all() and np.isnan(smoothed[-2:]).all()
    mean = (lambda v: np.exp(np.log(v).mean())) if geometric else np.mean
    for i in range(2, 8):
        assert smoothed[i] == pytest.approx(mean(values[i - 2 : i + 3]))
    with_nan = running_mean(np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0]), 2)
    assert np.isnan(with_nan[:4]).all() and with_nan[4:6] == pytest.approx([5.0, 6.0])  # NaN: not full
    short = running_mean(np.arange(1.0, 6.0), 10)  # shorter than its window: a window that fits, whole
    assert np.isnan(short[[0, 1, 3, 4]]).all() and short[2] == pytest.approx(3.0)
    assert running_mean(np.array([]), 10).shape == (0,) and running_mean(np.array([2.0]), 10) == [2.0]


def test_the_plotted_running_mean_has_no_point_from_a_partial_window(plain_run: Path) -> None:
    figure = draw_run_figures(plain_run, figures=["fig2"], window=WINDOW)["fig2"]
    raw = pd.read_csv(plain_run / "probe.csv").query("snapshot_iteration == 24")["grad_norm_minimax"]
    (curve,) = [line for line in figure.axes[0].get_lines() if "(24 G steps)" in str(line.get_label())]
    plotted, half = np.asarray(curve.get_ydata(), dtype=float), WINDOW // 2
    assert np.isnan(plotted[:half]).all() and np.isnan(plotted[-half:]).all()  # not drawn where partial
    logs = np.log(raw.to_numpy())
    for i in np.flatnonzero(np.isfinite(plotted)):
        assert plotted[i] == pytest.approx(np.exp(logs[i - half : i + half + 1].mean()))


# ----------------------------------------------------------------------------- noise_bound
def test_noise_bound_puts_sigma_on_a_log_axis_with_zero_apart_and_a_short_legend(noise_run: Path) -> None:
    figure = draw_run_figures(noise_run, figures=["noise_bound"], window=WINDOW)["noise_bound"]
    logarithmic, zero = figure.axes[:2]

    def sigmas(axis) -> set[float]:
        """The sigmas of the axis's data lines (labelled with their snapshot)."""
        lines = [line for line in axis.get_lines() if "G steps" in str(line.get_label())]
        return {float(x) for line in lines for x in line.get_xdata()}

    assert logarithmic.get_xscale() == "log" and sigmas(logarithmic) == {0.01, 0.1}
    assert sigmas(zero) == {0.0} and list(zero.get_xticks()) == [0]  # sigma = 0 on its own axis
    (legend,) = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert len(labels) == len(SNAPSHOTS) + 4 + 1  # a colour per snapshot, a style per quantity, the diameter


# ----------------------------------------------------------------------------- words, titles and footers
def test_every_figure_has_the_footer_and_axes_in_words(plain_run: Path, noise_run: Path) -> None:
    for name, figure in run_figures(plain_run, noise_run).items():
        texts = " ".join(text.get_text() for text in figure.texts)
        for fact in ("digits", "16x16 px", "seed 0", "20 D iterations", "commit 0123456789"):
            assert fact in texts, (name, fact)
        labels = [axis.get_ylabel() for axis in figure.axes] + [axis.get_xlabel() for axis in figure.axes]
        assert not set(labels) & set(columns_of("probe.csv")), (name, labels)  # no raw column name on an axis


def test_a_sample_grid_has_one_title(plain_run: Path) -> None:
    figure = samples_figure(plain_run)
    for axis in figure.axes:
        assert axis.get_title().startswith("G after epoch")
        (image,) = axis.get_images()
        assert image.get_array().shape[0] == 18 and image.get_array().min() == 128  # the label band is cut


def test_sweep_figures_name_their_axes_in_words_their_seeds_and_colour_snapshots(tmp_path: Path) -> None:
    folders = [
        write_run(
            tmp_path / "sweep" / str(seed), [r for s in SNAPSHOTS for r in probe_rows(s, seed=seed)], seed
        )
        for seed in (0, 1)
    ]
    for folder in folders:
        (folder / "summary.json").write_text(json.dumps({"status": "done"}))
    written = aggregate([tmp_path / "sweep"], output=tmp_path / "out", window=WINDOW, formats=["png"])
    assert tmp_path / "out" / "figures" / "fig1.png" in written
    collected = collect([tmp_path / "sweep"])
    figure = draw_aggregate_figure(
        "fig1",
        collected["results"],
        collected["keys"],
        {},
        window=WINDOW,
        band="minmax",
        footer=run_footer(folders),
    )
    assert "seeds 0, 1" in " ".join(text.get_text() for text in figure.texts)
    assert [axis.get_ylabel() for axis in figure.axes[::3]] == [
        axis_label("d_loss"),
        axis_label("d_accuracy"),
    ]
    colours = snapshot_colors(
        SNAPSHOTS.values()
    )  # a sweep's panels: by epoch, the k-th as in a run's figures
    for axis, epoch in zip(figure.axes[:3], SNAPSHOTS.values(), strict=True):
        assert {to_rgba(line.get_color()) for line in axis.get_lines()} == {colours[epoch]}
        assert to_rgba(axis.title.get_color()) == colours[epoch]


def test_a_sweep_footer_lists_its_seeds_in_order_and_says_what_was_not_recorded(tmp_path: Path) -> None:
    folders = []
    for seed in (10, 2):
        folder = tmp_path / str(seed)
        folder.mkdir()
        (folder / "config.yaml").write_text(CONFIG.format(seed=seed))
        folders.append(folder)
    footer = run_footer(folders)
    assert "seeds 2, 10" in footer and "dataset digits" in footer and "commit not recorded" in footer


def test_the_footer_names_a_critic_with_its_own_probe_length() -> None:
    """experiment=critics gives wgan and wgan_gp longer: the footer must not say every critic ran 500."""
    critics = {"gan": {"iterations": None}, "wgan": {"iterations": 2000}, "wgan_gp": {"iterations": 2000}}
    assert probe_words({"iterations": 500}, critics) == "500 D iterations (wgan, wgan_gp: 2000)"
    assert probe_words({"iterations": 500}, {"gan": {"iterations": 500}}) == "500 D iterations"
    assert probe_words({}, critics) == "unknown"
