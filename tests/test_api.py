"""gan_repro.api: run() refuses bad input as the command line does; load_run and load_sweep give the files'
own values; the example notebook runs from top to bottom on a tiny setting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from gan_repro import api
from gan_repro.cli import plot_main
from gan_repro.errors import ConfigError, RunStateError
from tests.helpers import REPO, TINY
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration

NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
RUN_FOLDER_FILES = (  # what a finished tiny run's folder holds, made by api.run as by gan-repro
    "config.yaml",
    "log.txt",
    "train.csv",
    "probe.csv",
    "snapshots.csv",
    "summary.json",
    "report.md",
    "environment.json",
    ".hydra/overrides.yaml",
    "figures/fig1.png",
    "figures/fig2.png",
    "figures/fig3.png",
)


@pytest.mark.parametrize(
    "override",
    ["seed=-1", "dataset=nothing", "+train.nothing=1", "probe.iterations=0", "logger=wandb"],
)
def test_run_refuses_bad_input_with_the_command_lines_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str
) -> None:
    monkeypatch.chdir(tmp_path)  # run_dir=None: outputs/runs/... here, which a refused run must not leave
    with pytest.raises(ConfigError) as refused:
        api.run([*TINY, override])
    assert not any(tmp_path.iterdir())
    code, output = call_main([*TINY, override, f"hydra.run.dir={tmp_path / 'cli'}"])
    assert code == 2 and f"error: {refused.value}" in output.splitlines()[0], (str(refused.value), output)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["-m", "seed=0,1"], "-m is a command-line flag"), (["hydra.run.dir=/tmp/x"], r"api.run\(run_dir=")],
)
def test_run_takes_overrides_not_flags(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        api.run([*TINY, *overrides])


def test_run_takes_a_list_of_overrides() -> None:
    with pytest.raises(ConfigError, match=r"overrides: give a list of overrides, e.g. \['seed=1'\]"):
        api.run("seed=1")  # type: ignore[arg-type]


def test_run_into_a_folder_holding_another_run_refuses_and_keeps_it(tiny_run, tmp_path: Path) -> None:
    _, run_dir, _ = tiny_run
    other = shutil.copytree(run_dir, tmp_path / "other")
    before = {path: path.read_bytes() for path in other.rglob("*") if path.is_file()}
    with pytest.raises(ConfigError, match=r"resume: .* holds a run with other settings \(seed differ\)"):
        api.run([*TINY, "seed=5"], run_dir=other)
    assert all(path.read_bytes() == content for path, content in before.items())
    assert not (other / ".hydra").exists()  # its record of the command is not overwritten by this one


def assert_tables_are_the_csvs(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """One DataFrame per CSV at the folder's top level, each what pandas reads from the file."""
    assert sorted(tables) == sorted(path.stem for path in folder.glob("*.csv"))
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, pd.read_csv(folder / f"{name}.csv"))


def test_load_run_gives_the_files_values(tiny_run) -> None:
    _, run_dir, _ = tiny_run
    run = api.load_run(run_dir)
    assert {"train", "probe", "snapshots"} <= run.tables.keys()
    assert_tables_are_the_csvs(run.tables, run_dir)
    assert run.probe is run.tables["probe"] and run.train is run.tables["train"]
    assert run.config == OmegaConf.load(run_dir / "config.yaml") and run.config.dataset.name == "digits"
    assert run.summary == json.loads((run_dir / "summary.json").read_text()) and run.status == "done"
    assert run.claims == run.summary["claims"]
    assert run.environment == json.loads((run_dir / "environment.json").read_text())
    assert run.figures["fig1.png"] == run_dir / "figures" / "fig1.png" and run.figures["fig1.png"].is_file()
    with pytest.raises(ConfigError, match=r"updates\.csv: .* has none .*probe\.csv"):
        run.table("updates")


def test_load_run_refuses_what_is_not_a_run_folder(tmp_path: Path) -> None:
    for folder in (tmp_path, tmp_path / "absent"):
        with pytest.raises(ConfigError, match=f"run_dir: {folder} is not a"):
            api.load_run(folder)
    (tmp_path / "config.yaml").write_text("seed: [unclosed\n")
    with pytest.raises(RunStateError, match="config.yaml: cannot be read as a config"):
        api.load_run(tmp_path)


def test_load_sweep_gives_each_job_and_the_aggregate(tiny_run, tmp_path: Path) -> None:
    _, run_dir, _ = tiny_run
    sweep = tmp_path / "sweep"
    for job in ("0", "1", "10", "2"):
        shutil.copytree(run_dir, sweep / job)
    loaded = api.load_sweep(sweep)
    assert list(loaded.runs) == ["0", "1", "2", "10"] and loaded.tables == {}
    pd.testing.assert_frame_equal(loaded.runs["2"].probe, pd.read_csv(sweep / "2" / "probe.csv"))
    with pytest.raises(ConfigError, match=f"results.csv: .*gan-repro-plot {sweep}"):
        loaded.table("results")
    assert plot_main([str(sweep), "--formats", "png"]) == 0
    loaded = api.load_sweep(sweep)
    assert {"results", "claims"} <= loaded.tables.keys()
    assert_tables_are_the_csvs(loaded.tables, sweep)
    assert loaded.results is loaded.tables["results"] and loaded.claims is loaded.tables["claims"]
    assert len(loaded.results) == 4 * len(loaded.runs["0"].probe)


def test_load_sweep_refuses_what_is_not_a_sweep(tiny_run, tmp_path: Path) -> None:
    _, run_dir, _ = tiny_run
    for folder, message in (
        (tmp_path, "holds no gan-repro run folders"),
        (tmp_path / "absent", "is not a folder"),
        (run_dir, "is one run, not a sweep; load it with load_run"),
    ):
        with pytest.raises(ConfigError, match=f"sweep_dir: {folder} {message}"):
            api.load_sweep(folder)


def test_the_notebook_is_committed_without_outputs() -> None:
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_quickstart_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("GAN_REPRO_CACHE", str(tmp_path / "cache"))  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()

    (run_dir,) = (tmp_path / "outputs" / "runs").glob("*/*")  # the notebook's run, in its working folder
    for name in RUN_FOLDER_FILES:
        assert (run_dir / name).is_file(), name
    run = api.load_run(run_dir)
    assert run.status == "done" and run.config.dataset.name == "digits" and len(run.probe) > 0
    assert (tmp_path / "cache").is_dir()  # GAN_REPRO_CACHE reached the kernel: nothing under ~/.cache
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert any("image/png" in output.get("data", {}) for output in outputs)  # the D cost figure was drawn
    printed = "".join(output.get("text", "") for output in outputs)
    assert all(claim["id"] in printed for claim in run.claims)  # the claims were read back
