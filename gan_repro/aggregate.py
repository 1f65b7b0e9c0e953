"""Aggregate many runs (a `-m` sweep, or several folders) from their CSVs and saved configs alone.

Each run is labelled by the config keys whose values differ between the runs. The seed is the
replicate: runs that differ only in seed form one group, drawn as the mean across seeds (geometric
for the log-scale quantities) with a band (min-max, or the 25-75% quartiles), one color per group.
`results.csv` (probe rows) and `training_results.csv` (train rows) join every run's rows with its
swept keys, for plotting in a notebook; `aggregate.json` lists the runs and the jobs that did not finish.
One seed is one sample of a claim: `claims.csv` holds every run's claims (summary.json's, one row per claim
and snapshot) and `claims_summary.csv` their verdicts over seeds, per group and claim (and snapshot).
Critics (`-m critic=gan,wgan_gp seed=0,1,2`) are told apart by probe.csv's critic column, not by config
keys: a run may hold several, and each critic's settings are compared only between runs that probed it.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from gan_repro import schema
from gan_repro.columns import GRADIENT_NORMS, axis_label, columns_of, find_column
from gan_repro.errors import ConfigError
from gan_repro.files import atomic_write, write_json
from gan_repro.plot import (
    GRADIENT_FIGURES,
    add_footer,
    run_footer,
    running_mean,
    snapshot_colors,
    snapshot_label,
)
from gan_repro.report import (
    CONTROL_SNAPSHOT,
    DEFAULT_CRITICS,
    claim_rows,
    read_probe,
    snapshot_rows,
    without_sweep,
)
from gan_repro.runstate import STATE_NAME, check_run_format

log = logging.getLogger(__name__)

# Keys that say how a run was executed, not what it computed: never used to label runs. Hydra's own node, and
# every key schema.py declares no sweep label (the run-only keys, the device, the cache, the plot, ...)
NOT_SWEPT = ("hydra", *schema.NOT_SWEPT)
BANDS = {"minmax": (0.0, 1.0), "quartiles": (0.25, 0.75)}
# Sweep figures: a panel's curves take its snapshot's colour (plot.snapshot_colors, by epoch), so groups of
# runs (when more than one) are told apart by a marker each, placed on every few points
GROUP_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MARKS_PER_CURVE = 8
FIGURE_MEASURES = {
    "fig1": ["d_loss", "d_accuracy"],
    "fig2": ["grad_norm_minimax"],
    "fig3": ["grad_norm_nonsaturating"],
    "critics": columns_of("probe.csv", group=GRADIENT_NORMS),  # a row of panels per critic: its cost(s)
}
PAPER_FIGURES = ("fig1", "fig2", "fig3")  # drawn by default; "critics" too when the runs probed other critics


def is_run_folder(folder: Path) -> bool:
    """A gan-repro run or sweep job: it holds our config.yaml, or Hydra's .hydra/config.yaml."""
    return (folder / "config.yaml").is_file() or (folder / ".hydra" / "config.yaml").is_file()


def find_run_folders(paths: Sequence[Path]) -> list[Path]:
    """Every run folder at or below the given paths (a run, a sweep, or a folder of sweeps)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if is_run_folder(path):
            found.append(path)
            continue
        found += sorted(
            {
                marker.parent.parent if marker.parent.name == ".hydra" else marker.parent
                for marker in path.rglob("config.yaml")
                if is_run_folder(marker.parent.parent if marker.parent.name == ".hydra" else marker.parent)
            }
        )
    return list(dict.fromkeys(found))


def job_status(folder: Path) -> str:
    """done, or why not: the job's last error line, its saved state, or that it never finished."""
    summary = folder / "summary.json"
    if summary.is_file():
        status = json.loads(summary.read_text()).get("status", "unknown")
        if status == "done":
            return "done"
    errors = (
        [
            line[len("error: ") :].strip()
            for line in (folder / "log.txt").read_text(errors="replace").splitlines()
            if line.startswith("error: ")
        ]
        if (folder / "log.txt").is_file()
        else []
    )
    if errors:
        return f"failed: {errors[-1]}"
    state = folder / STATE_NAME
    if state.is_file():
        return f"not finished (state: {json.loads(state.read_text()).get('status', 'unknown')})"
    return "not finished (never started, or killed before writing its state)"


def job_statuses(sweep: Path) -> dict[str, str]:
    """{job folder relative to the sweep: status} for every job of a sweep."""
    return {
        str(folder.relative_to(sweep)) if folder != sweep else ".": job_status(folder)
        for folder in find_run_folders([sweep])
    }


def flat_config(folder: Path) -> dict[str, Any]:
    """The run's config as {dotted key: value}, lists as text, keys in NOT_SWEPT left out."""
    hydra_saved = (
        folder / ".hydra" / "config.yaml"
    )  # as composed, for every job alike (even one that failed early)
    path = hydra_saved if hydra_saved.is_file() else folder / "config.yaml"
    container = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            key = prefix[:-1]
            if not any(key == skip or key.startswith(f"{skip}.") for skip in NOT_SWEPT):
                flat[key] = str(node) if isinstance(node, list) else node

    walk(container, "")
    return flat


def swept_keys(configs: dict[Path, dict[str, Any]]) -> list[str]:
    """Keys whose values differ between the runs (seed first, if it does). A critic's key (critic.<name>.*)
    is compared only between the runs that probed that critic: which critics ran is probe.csv's column."""
    keys = sorted({key for config in configs.values() for key in config})

    def differs(key: str) -> bool:
        holders = [c for c in configs.values() if key in c] if key.startswith("critic.") else configs.values()
        return len({repr(config.get(key)) for config in holders}) > 1

    return sorted([key for key in keys if differs(key)], key=lambda key: (key != "seed", key))


def collect(paths: Sequence[Path]) -> dict[str, Any]:
    """Read every run under paths: the tidy tables, the swept keys, and the jobs that did not finish."""
    folders = find_run_folders(paths)
    if not folders:
        raise FileNotFoundError(f"no gan-repro run folders under {', '.join(str(p) for p in paths)}")
    statuses = {folder: job_status(folder) for folder in folders}
    finished = [
        folder for folder in folders if statuses[folder] == "done" and (folder / "probe.csv").is_file()
    ]
    configs = {folder: flat_config(folder) for folder in folders}
    keys = swept_keys(configs)
    probe_tables, train_tables, claim_tables = [], [], []
    claim_front = ["run", *dict.fromkeys(["seed", *keys])]  # the seed always: verdicts are counted over seeds
    for folder in finished:
        check_run_format(folder)
        labels = {"run": str(folder), **{key: configs[folder].get(key) for key in keys}}
        probe_tables.append(read_probe(folder).assign(**labels))
        if (folder / "train.csv").is_file():
            train_tables.append(pd.read_csv(folder / "train.csv").assign(**labels))
        claims = pd.DataFrame(
            claim_rows(json.loads((folder / "summary.json").read_text())), columns=columns_of("claims.csv")
        )
        claim_tables.append(claims.assign(**{**labels, "seed": configs[folder].get("seed")}))
    front = ["run", *keys]

    def tidy(tables: list[pd.DataFrame], front: list[str] = front, rest: Sequence[str] = ()) -> pd.DataFrame:
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*front, *rest])
        return table[front + [c for c in table.columns if c not in front]]

    return {
        "results": tidy(probe_tables),
        "training": tidy(train_tables),
        "claims": tidy(claim_tables, claim_front, columns_of("claims.csv")),
        "keys": keys,
        "finished": [str(f) for f in finished],
        "unfinished": {str(folder): status for folder, status in statuses.items() if folder not in finished},
    }


def group_label(row: pd.Series, group_keys: list[str]) -> str:
    """'trained with loss=minimax; probed with probe.iterations=500' (a group's option named by its group,
    other keys in full), or 'all runs' when only the seed differs."""

    def setting(key: str) -> str:
        return f"{key.removesuffix('.name').removesuffix('.kind')}={row[key]}"

    probe_side = ("probe.", "critic.")
    trained = [setting(key) for key in group_keys if not key.startswith(probe_side)]
    probed = [setting(key) for key in group_keys if key.startswith(probe_side)]
    parts = [f"trained with {', '.join(trained)}"] * bool(trained) + [
        f"probed with {', '.join(probed)}"
    ] * bool(probed)
    return "; ".join(parts) or "all runs"


def distinct(values: pd.Series) -> str:
    """The distinct texts of a column, in order, joined: one claim's unit can differ between seeds (a
    converged snapshot exempt in one)."""
    return "; ".join(dict.fromkeys(str(value) for value in values.dropna()))


def claims_summary(claims: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """claims_summary.csv: per group of runs that differ only in seed, per claim and snapshot, the value's
    median, min and max over seeds, in how many seeds it holds and is measured (for the snapshot and for the
    whole claim), and the seeds. A verdict of None ('not measured') counts as neither holding nor measured."""
    group_keys = [key for key in keys if key != "seed"]
    front = ["group", *group_keys]
    if claims.empty:
        return pd.DataFrame(columns=front + columns_of("claims_summary.csv"))
    claims = claims.assign(
        group=claims.apply(group_label, axis=1, group_keys=group_keys),
        known=claims["holds"].notna() & claims["claim_holds"].notna(),
        claim_known=claims["claim_holds"].notna(),
    )
    whole = (  # the whole claim: one verdict per run
        claims.drop_duplicates(["group", "claim_id", "run"])
        .groupby(["group", "claim_id"], sort=False)
        .agg(
            claim_holds_in=("claim_holds", lambda v: int(v.eq(True).sum())),
            claim_measured_in=("claim_known", "sum"),
        )
    )
    rows = []
    for (group, claim_id, snapshot), selected in claims.groupby(
        ["group", "claim_id", "snapshot"], sort=False, dropna=False
    ):
        first, values = selected.iloc[0], pd.to_numeric(selected["value"], errors="coerce")
        rows.append(
            {
                "group": group,
                **{key: first[key] for key in group_keys},
                "claim_id": claim_id,
                "claim": first["claim"],
                "paper": first["paper"],
                "snapshot": snapshot,
                "unit": distinct(selected["unit"]),
                "threshold": distinct(selected["threshold"]),
                "median": values.median(),
                "min": values.min(),
                "max": values.max(),
                "holds_in": int((selected["known"] & selected["holds"].eq(True)).sum()),
                "measured_in": int(selected["known"].sum()),
                **{name: int(count) for name, count in whole.loc[(group, claim_id)].items()},
                "seeds": sorted(int(seed) for seed in selected["seed"].dropna()),
            }
        )
    return pd.DataFrame(rows, columns=front + columns_of("claims_summary.csv"))


def band_curves(rows: pd.DataFrame, measure: str, window: int, band: str) -> pd.DataFrame:
    """Per iteration: the mean over runs of each run's running mean, and the band's low and high edges."""
    geometric = find_column(measure).log_scale
    per_run = {}
    for run, run_rows in rows.groupby("run"):
        run_rows = run_rows.sort_values("iteration")
        per_run[run] = pd.Series(
            running_mean(run_rows[measure].to_numpy(dtype=float), window, geometric=geometric),
            index=run_rows["iteration"].to_numpy(),
        )
    table = pd.DataFrame(per_run)
    values = np.log(table.clip(lower=np.finfo(float).tiny)) if geometric else table
    low, high = BANDS[band]
    summary = pd.DataFrame(
        {
            "mean": values.mean(axis=1),
            "low": values.quantile(low, axis=1),
            "high": values.quantile(high, axis=1),
            "runs": table.notna().sum(axis=1),
        }
    )
    if geometric:
        summary[["mean", "low", "high"]] = np.exp(summary[["mean", "low", "high"]])
    return summary


def draw_aggregate_figure(
    name: str,
    results: pd.DataFrame,
    keys: list[str],
    unfinished: dict[str, str],
    *,
    window: int,
    band: str,
    footer: str = "",
) -> Figure:
    """One panel per (measure, snapshot epoch: comparable across datasets), in the snapshot's colour; one
    marker per group of runs that differ only in seed (where there are several groups)."""
    if name == "critics":
        return draw_aggregate_critics_figure(
            results, keys, unfinished, window=window, band=band, footer=footer
        )
    rows = snapshot_rows(results)
    group_keys = [key for key in keys if key != "seed"]
    rows = rows.assign(group=rows.apply(group_label, axis=1, group_keys=group_keys) if len(rows) else [])
    measures, epochs = FIGURE_MEASURES[name], sorted(rows["snapshot_epoch"].unique())
    colors = snapshot_colors(epochs)
    figure = Figure(figsize=(4.4 * max(1, len(epochs)), 3.6 * len(measures) + 0.8), layout="constrained")
    axes = figure.subplots(len(measures), max(1, len(epochs)), squeeze=False, sharey="row")
    groups = sorted(rows["group"].unique())
    for column, epoch in enumerate(epochs):
        for row_index, measure in enumerate(measures):
            axis = axes[row_index, column]
            for index, group in enumerate(groups):
                selected = rows[(rows["snapshot_epoch"] == epoch) & (rows["group"] == group)]
                if selected.empty:
                    continue
                curves = band_curves(selected, measure, window, band)
                runs = selected["run"].nunique()
                axis.plot(
                    curves.index,
                    curves["mean"],
                    color=colors[float(epoch)],
                    linewidth=1.8,
                    label=f"{group} ({runs} run{'s' if runs != 1 else ''})",
                    **group_marks(index, len(groups), len(curves)),
                )
                axis.fill_between(
                    curves.index,
                    curves["low"],
                    curves["high"],
                    color=colors[float(epoch)],
                    alpha=0.2,
                    linewidth=0,
                )
            if find_column(measure).log_scale:
                axis.set_yscale("log")
            axis.grid(True, alpha=0.3)
            axes[row_index, 0].set_ylabel(axis_label(measure))  # the row shares its y axis
            axes[0, column].set_title(
                panel_title(rows[rows["snapshot_epoch"] == epoch]), fontsize=10, color=colors[float(epoch)]
            )
            axes[-1, column].set_xlabel("discriminator iterations")
    axes[0, -1].legend(fontsize=8)
    title = {"fig1": "Figure 1: D's cost and accuracy", **{k: v[1] for k, v in GRADIENT_FIGURES.items()}}[
        name
    ]
    finish_figure(figure, title, keys, unfinished, band, footer)
    return figure


def group_marks(index: int, groups: int, points: int) -> dict[str, Any]:
    """The line's marker for the index-th of several groups of runs (none for a single group), every few
    points, each group's from its own offset (curves that coincide still show every marker)."""
    if groups <= 1:
        return {}
    every = max(1, points // MARKS_PER_CURVE)
    return {
        "marker": GROUP_MARKERS[index % len(GROUP_MARKERS)],
        "markevery": (index * every // groups, every),
        "markersize": 5,
    }


def panel_title(rows: pd.DataFrame) -> str:
    """A panel's snapshot in words: its G steps and epoch, or only the epoch where the runs' G steps differ
    (datasets of different sizes)."""
    if rows["snapshot_iteration"].nunique() == 1:
        return snapshot_label(rows)
    return f"G after {float(rows['snapshot_epoch'].iloc[0]):.2f} epochs"


def finish_figure(
    figure: Figure, title: str, keys: list[str], unfinished: dict[str, str], band: str, footer: str
) -> None:
    """The title with how runs were combined; the footer (run_footer), under the jobs left out, in red."""
    band_text = "min to max" if band == "minmax" else "25th to 75th percentile"
    if "seed" in keys:  # replicates: say how they are combined
        subtitle = f"mean over seeds (geometric on log axes), band: {band_text} over runs"
    else:  # one run per curve: nothing averaged
        subtitle = "one run per curve (no seeds swept): running averages, no band"
    figure.suptitle(f"{title}\n{subtitle}", fontsize=10)
    named = "; ".join(f"{Path(folder).name}: {status}"[:90] for folder, status in unfinished.items())
    add_footer(figure, footer, warning=f"not finished, left out: {named}" if unfinished else None)


def over_start(rows: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The rows with `measure` divided by each run's own value at iteration 0 (the fresh critic's), so that
    critics whose gradients differ by orders share one axis; a run without a positive start is left out."""
    starts = rows[rows["iteration"] == 0].groupby("run")[measure].first()
    starts = starts[starts > 0]
    kept = rows[rows["run"].isin(starts.index)]
    return kept.assign(**{measure: kept[measure] / kept["run"].map(starts)})


def draw_aggregate_critics_figure(
    results: pd.DataFrame,
    keys: list[str],
    unfinished: dict[str, str],
    *,
    window: int,
    band: str,
    footer: str = "",
) -> Figure:
    """One row of panels per critic, one column per snapshot (in its colour), all on one shared axis: G's
    gradient norm under the critic's cost(s) over each run's own iteration-0 value (minimax solid, -log D
    dashed), mean over seeds with a band, one marker per group of other swept keys."""
    rows = without_sweep(results[results["snapshot_iteration"] != CONTROL_SNAPSHOT])

    def label(row: pd.Series) -> str:
        """The row's group: the swept keys but the seed, of a critic's settings only its own."""
        own = [
            k
            for k in keys
            if k != "seed" and (not k.startswith("critic.") or k.startswith(f"critic.{row['critic']}."))
        ]
        return group_label(row, own)

    rows = rows.assign(group=rows.apply(label, axis=1) if len(rows) else [])
    critics, epochs = list(dict.fromkeys(rows["critic"])), sorted(rows["snapshot_epoch"].unique())
    width = max(8.8, 4.4 * len(epochs))  # one snapshot: wide enough for the two-line title
    figure = Figure(figsize=(width, 3.2 * len(critics) + 0.8), layout="constrained")
    axes = figure.subplots(len(critics), max(1, len(epochs)), squeeze=False, sharey=True)
    groups, colors = sorted(rows["group"].unique()), snapshot_colors(epochs)
    for (line, critic), (column, epoch) in itertools.product(enumerate(critics), enumerate(epochs)):
        axis = axes[line, column]
        color = colors[float(epoch)]
        for index, group in enumerate(groups):
            selected = rows[
                (rows["critic"] == critic) & (rows["snapshot_epoch"] == epoch) & (rows["group"] == group)
            ]
            for measure in [
                m
                for m in columns_of("probe.csv", group=GRADIENT_NORMS)
                if m in selected and selected[m].notna().any()
            ]:
                normalized = over_start(selected.dropna(subset=[measure]), measure)
                curves = band_curves(normalized, measure, window, band)
                style = "--" if measure == "grad_norm_nonsaturating" else "-"
                marks = group_marks(index, len(groups), len(curves))
                axis.plot(
                    curves.index, curves["mean"], style, color=color, linewidth=1.8, label=group, **marks
                )
                axis.fill_between(
                    curves.index, curves["low"], curves["high"], color=color, alpha=0.2, linewidth=0
                )
        axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        axis.set_title(
            f"critic={critic}, {panel_title(rows[rows['snapshot_epoch'] == epoch])}", fontsize=9, color=color
        )
        axes[line, 0].set_ylabel("G's gradient norm / its value at iteration 0")
        axes[-1, column].set_xlabel("discriminator iterations")
    if groups != ["all runs"]:
        axes[0, -1].legend(fontsize=7)
    title = "G's gradient norm under each critic's cost (gan, gan_r1: minimax solid, -log D dashed)"
    finish_figure(figure, title, keys, unfinished, band, footer)
    return figure


def aggregate_folders(
    paths: Sequence[Path],
    *,
    output: Path | None = None,
    window: int | None = None,
    band: str = "minmax",
    formats: Sequence[str] | None = None,
    figures: Sequence[str] | None = None,
) -> list[Path]:
    """gan-repro-plot on several runs: aggregate() into output (the one folder given when None), the paper's
    figures unless others are named; a ConfigError when the paths hold no run, or name several folders and no
    output."""
    if not find_run_folders(paths):
        raise ConfigError(
            "DIR",
            "no gan-repro runs (probe.csv, or run folders with config.yaml) under "
            f"{', '.join(map(str, paths))}",
        )
    if output is None and len(paths) > 1:
        raise ConfigError("--output", "several folders given; say where the aggregate goes with --output DIR")
    return aggregate(
        paths,
        output=output or paths[0],
        window=window or 10,
        band=band,
        formats=formats or ("png",),
        figures=[name for name in (figures or PAPER_FIGURES) if name in FIGURE_MEASURES],
    )


def aggregate(
    paths: Sequence[Path],
    *,
    output: Path,
    window: int = 10,
    band: str = "minmax",
    formats: Sequence[str] = ("png",),
    figures: Sequence[str] = PAPER_FIGURES,
) -> list[Path]:
    """Write results.csv, training_results.csv, claims.csv, claims_summary.csv, aggregate.json and the
    aggregate figures into output."""
    collected = collect(paths)
    output = Path(output)
    summary = claims_summary(collected["claims"], collected["keys"])
    written = [
        atomic_write(
            output / "results.csv", lambda h: h.write(collected["results"].to_csv(index=False).encode())
        ),
        atomic_write(
            output / "training_results.csv",
            lambda h: h.write(collected["training"].to_csv(index=False).encode()),
        ),
        atomic_write(
            output / "claims.csv", lambda h: h.write(collected["claims"].to_csv(index=False).encode())
        ),
        atomic_write(output / "claims_summary.csv", lambda h: h.write(summary.to_csv(index=False).encode())),
        write_json(
            output / "aggregate.json",
            {
                "swept_keys": collected["keys"],
                "band": band,
                "window": window,
                "finished": collected["finished"],
                "unfinished": collected["unfinished"],
                "claims_summary": json.loads(summary.to_json(orient="records")),  # plain JSON types
            },
        ),
    ]
    if collected["results"].empty:
        log.warning("aggregate: no finished run to draw")
        return written
    results = collected["results"]
    if "critic" in results and set(results["critic"].dropna()) - DEFAULT_CRITICS:  # aggregate by critic
        figures = list(dict.fromkeys([*figures, "critics"]))
    for name in figures:
        if name in PAPER_FIGURES and snapshot_rows(results).empty:
            log.warning("aggregate: %s shows critic=gan, which none of these runs probed; skipped", name)
            continue
        figure = draw_aggregate_figure(
            name,
            collected["results"],
            collected["keys"],
            collected["unfinished"],
            window=window,
            band=band,
            footer=run_footer([Path(folder) for folder in collected["finished"]]),
        )
        for fmt in formats:
            written.append(
                atomic_write(
                    output / "figures" / f"{name}.{fmt}",
                    lambda handle, figure=figure, fmt=fmt: figure.savefig(handle, format=fmt, dpi=150),
                )
            )
    return written
