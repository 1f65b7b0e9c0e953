"""Sweeps: real multiruns through Hydra's launchers, the stage cache, and aggregating runs from their CSVs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_repro.aggregate import band_curves, collect, group_label, job_statuses
from gan_repro.cache import key_of, probe_inputs, training_inputs
from gan_repro.cli import plot_main, sweep_folder, unique_folder_override
from gan_repro.columns import columns_of
from gan_repro.pipeline import run
from tests.helpers import REPO, TINY, compose_config, mark_finished, run_cli, run_script, start_cli

pytestmark = pytest.mark.integration

CPU = torch.device("cpu")


# ----------------------------------------------------------------------------- run and sweep folders
def test_folders_get_unique_names_unless_given() -> None:
    first, second = unique_folder_override([]), unique_folder_override([])
    assert first != second and first[0].startswith("hydra.run.dir=outputs/runs/")
    sweep = unique_folder_override(["-m", "seed=0,1"])
    assert sweep[0].startswith("hydra.sweep.dir=outputs/multirun/")
    assert unique_folder_override(["hydra.run.dir=/tmp/x"]) == []
    assert sweep_folder(["-m", "seed=0,1", "hydra.sweep.dir=/tmp/s"]) == Path("/tmp/s")
    assert sweep_folder(["seed=0"]) is None


# ----------------------------------------------------------------------------- the cache
def test_cache_keys_follow_what_the_stages_depend_on(tmp_path: Path) -> None:
    base = compose_config(TINY)
    train_key, probe_key = key_of(training_inputs(base, CPU)), key_of(probe_inputs(base, CPU))
    for override in (
        "seed=1",
        "loss=minimax",
        "dataset.image_size=32",
        "noise=constant",
        "train.lr=1e-4",
        "performance.channels_last=false",
    ):
        changed = compose_config([*TINY, override])
        assert key_of(training_inputs(changed, CPU)) != train_key, override
    for override in (
        "quiet=false",
        "train.num_workers=0",
        "probe.iterations=7",
        "plot.window=5",
        "resume=false",
    ):
        assert key_of(training_inputs(compose_config([*TINY, override]), CPU)) == train_key, override
    assert key_of(probe_inputs(compose_config([*TINY, "probe.iterations=7"]), CPU)) != probe_key
    assert key_of(probe_inputs(compose_config([*TINY, "probe.log_every=2"]), CPU)) != probe_key
    for override in ("probe.plateau_window=7", "probe.plateau_fraction=0.1", "plot.window=5"):  # the report's
        assert key_of(probe_inputs(compose_config([*TINY, override]), CPU)) == probe_key, override
    threads = torch.get_num_threads()  # another thread count sums in another order
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        assert key_of(training_inputs(base, CPU)) != train_key
    finally:
        torch.set_num_threads(threads)


def test_cache_trains_once_across_runs(tmp_path: Path, caplog) -> None:
    cached = [*TINY, "cache=true", f"cache_dir={tmp_path / 'cache'}"]
    with caplog.at_level(logging.INFO, logger="gan_repro"):
        run(compose_config(cached), tmp_path / "first")
        assert "using the cached" not in caplog.text
        caplog.clear()
        run(compose_config(cached), tmp_path / "second")  # e.g. experiment=fig1, then experiment=fig2
        assert "train: using the cached generator" in caplog.text
        assert "probe: using the cached results" in caplog.text
        caplog.clear()
        run(compose_config([*cached, "probe.iterations=9"]), tmp_path / "third")  # a new probe, the same G
        assert "train: using the cached generator" in caplog.text
        assert "probe: using the cached" not in caplog.text
    for name in ("train.csv", "snapshots.csv", "probe.csv", "checkpoints/iteration_000048.pt"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    third, first = (pd.read_csv(tmp_path / name / "probe.csv") for name in ("third", "first"))
    assert len(third) != len(first)
    assert len(list((tmp_path / "cache" / "train").iterdir())) == 2  # one entry and its lock file


def test_concurrent_jobs_with_the_same_inputs_train_once(tmp_path: Path) -> None:
    arguments = [*TINY, "cache=true", f"cache_dir={tmp_path / 'cache'}", "plot.formats=[png]"]
    jobs = [start_cli(*arguments, f"hydra.run.dir={tmp_path / name}", cwd=tmp_path) for name in ("a", "b")]
    assert [job.wait(timeout=600) for job in jobs] == [0, 0]
    logs = [(tmp_path / name / "log.txt").read_text() for name in ("a", "b")]
    assert sum("train: using the cached generator" in text for text in logs) == 1  # one trained, one waited
    assert (tmp_path / "a" / "probe.csv").read_bytes() == (tmp_path / "b" / "probe.csv").read_bytes()


# ----------------------------------------------------------------------------- multiruns
def sweep_arguments(sweep: Path, *extra: str) -> list[str]:
    return ["-m", *TINY, "plot.formats=[png]", f"hydra.sweep.dir={sweep}", *extra]


def test_basic_launcher_sweep_over_seeds_then_aggregate(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_cli(*sweep_arguments(sweep, "seed=0,1"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert job_statuses(sweep) == {"0": "done", "1": "done"}
    assert plot_main([str(sweep)]) == 0
    results = pd.read_csv(sweep / "results.csv")
    assert set(results["seed"]) == {0, 1} and list(results.columns[:2]) == ["run", "seed"]
    assert {"grad_norm_minimax", "snapshot_iteration", "snapshot_epoch", "iteration"} <= set(results.columns)
    assert (sweep / "figures" / "fig2.png").stat().st_size > 10_000
    assert json.loads((sweep / "aggregate.json").read_text())["unfinished"] == {}
    claims = pd.read_csv(sweep / "claims.csv", dtype={"snapshot": str})  # the paper's claims, per seed
    assert list(claims.columns) == ["run", "seed", *columns_of("claims.csv")] and set(claims["seed"]) == {
        0,
        1,
    }
    ids = {"fig1_heldout_accuracy", "fig1_d_loss_decay", "fig2_minimax_decay", "fig3_nonsaturating_growth"}
    # a tiny probe's D does not separate held-out images: the growth claims exempt every snapshot (no rows)
    assert ids <= set(claims["claim_id"]) and set(claims["snapshot"].dropna()) <= {"24", "48"}
    over_seeds = pd.read_csv(sweep / "claims_summary.csv")
    assert list(over_seeds.columns) == ["group", *columns_of("claims_summary.csv")]
    assert set(over_seeds["seeds"]) == {"[0, 1]"}
    assert_results_page(sweep, tmp_path)


def assert_results_page(sweep: Path, tmp_path: Path) -> None:
    """scripts/results_page.py turns the sweep into docs/results.md and the README's claims block; a README
    without the markers is refused in one line and left as it was."""
    readme, docs = tmp_path / "README.md", tmp_path / "docs"
    readme.write_text(
        "# Front\n<!-- results_page.py: claims begin -->\nold\n<!-- results_page.py: claims end -->\nTail\n"
    )
    done = run_script(
        REPO / "scripts" / "results_page.py", str(sweep), f"--docs={docs}", f"--readme={readme}"
    )
    assert done.returncode == 0, done.stderr
    page, front = (docs / "results.md").read_text(), readme.read_text()
    assert "gan-repro -m" in page and "seed=0,1" in page and "## dataset=digits" in page
    assert "| paper's claim |" in page and "W1 / real-vs-real floor" in page
    assert "\nold\n" not in front and front.startswith("# Front") and front.endswith("Tail\n")
    assert "| paper's claim |" in front and "2 of 2 seeds" in front
    assert (docs / "figures" / "results" / "digits_fig2.png").is_file()
    assert (docs / "figures" / "results" / "digits_seed0_iteration_000048.png").is_file()
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    refused = run_script(
        REPO / "scripts" / "results_page.py", str(sweep), f"--docs={docs}", f"--readme={bare}"
    )
    assert refused.returncode != 0 and "lacks the markers" in refused.stderr
    assert bare.read_text() == "no markers\n"


def test_joblib_launcher_runs_jobs_in_parallel_sharing_the_cpus(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    result = run_cli(
        *sweep_arguments(
            sweep, "loss=minimax,nonsaturating", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert job_statuses(sweep) == {"0": "done", "1": "done"}
    import os

    threads = max(1, (os.cpu_count() or 1) // 2)
    for job in ("0", "1"):
        assert f"{threads} CPU threads" in (sweep / job / "log.txt").read_text()
    collected = collect([sweep])
    assert collected["keys"] == ["loss.name"]
    assert set(collected["results"]["loss.name"]) == {"minimax", "nonsaturating"}


def test_a_failing_job_does_not_lose_the_others(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_cli(*sweep_arguments(sweep, "train.batch_size=64,100000"), cwd=tmp_path)
    assert result.returncode == 1
    assert "1 of 2 jobs done" in result.stderr and "error: job 1: failed: train.batch_size" in result.stderr
    assert (sweep / "0" / "probe.csv").is_file()
    assert plot_main([str(sweep)]) == 0
    summary = json.loads((sweep / "aggregate.json").read_text())
    assert [Path(run).name for run in summary["finished"]] == ["0"]
    assert "train.batch_size" in summary["unfinished"][str(sweep / "1")]
    assert set(pd.read_csv(sweep / "results.csv")["train.batch_size"]) == {64}


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    result = run_cli(
        *sweep_arguments(
            sweep,
            "seed=0,1",
            "hydra/launcher=submitit_local",
            "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.timeout_min=10",
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert job_statuses(sweep) == {"0": "done", "1": "done"}
    assert "1 CPU threads" in (sweep / "0" / "log.txt").read_text()


# ----------------------------------------------------------------------------- aggregation from CSVs alone
def fake_run(folder: Path, *, seed: int, loss: str, scale: float) -> None:
    """A finished run folder written by hand: config, probe.csv, summary.json."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"seed: {seed}\nloss:\n  name: {loss}\nquiet: {seed == 0}\n")
    rows = [
        {
            "snapshot_iteration": 1,
            "snapshot_epoch": 1.0,
            "critic": "gan",
            "iteration": i,
            "d_loss": scale / i,
            "d_accuracy": 1.0,
            "grad_norm_minimax": scale,
            "grad_norm_nonsaturating": scale,
            "noise_std": 0.0,
            "sweep_noise_std": None,
        }
        for i in (1, 2, 3)
    ]
    pd.DataFrame(rows).to_csv(folder / "probe.csv", index=False)
    (folder / "summary.json").write_text(json.dumps({"status": "done"}))
    mark_finished(folder)


def test_runs_are_labelled_by_the_keys_that_differ_and_banded_over_seeds(tmp_path: Path) -> None:
    fake_run(tmp_path / "a", seed=0, loss="minimax", scale=1.0)
    fake_run(tmp_path / "b", seed=1, loss="minimax", scale=100.0)
    fake_run(tmp_path / "c", seed=0, loss="nonsaturating", scale=10.0)
    collected = collect([tmp_path])
    assert collected["keys"] == ["seed", "loss.name"]  # quiet differs too, but it changes no result
    minimax = collected["results"][collected["results"]["loss.name"] == "minimax"]
    curves = band_curves(minimax, "grad_norm_minimax", window=1, band="minmax")
    assert curves["mean"].iloc[0] == pytest.approx(10.0)  # geometric mean of 1 and 100
    assert (curves["low"].iloc[0], curves["high"].iloc[0]) == pytest.approx((1.0, 100.0))
    assert plot_main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2  # several folders need --output
    assert (
        plot_main(
            [
                str(tmp_path / "a"),
                str(tmp_path / "c"),
                "--output",
                str(tmp_path / "out"),
                "--band",
                "quartiles",
            ]
        )
        == 0
    )
    assert (tmp_path / "out" / "figures" / "fig1.png").is_file()


def test_slurm_launcher_config_composes() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_dir

    from gan_repro.config import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(
            config_name="config",
            return_hydra_config=True,
            overrides=["hydra/launcher=slurm_gpu", "hydra.launcher.partition=a100"],
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("a100", 1, 120)
    assert launcher.max_num_timeout == 3  # a job at its time limit is requeued and resumes


def test_sweep_labels_say_how_g_was_trained() -> None:
    row = pd.Series({"loss.name": "minimax", "noise.kind": "linear", "probe.iterations": 9})
    assert group_label(row, ["loss.name", "noise.kind"]) == "trained with loss=minimax, noise=linear"
    assert (
        group_label(row, ["loss.name", "probe.iterations"]) == "trained with loss=minimax; probed with "
        "probe.iterations=9"
    )
    assert group_label(row, []) == "all runs"
