"""The command line itself: every Hydra flag works before or after the overrides; --cfg job|all and
dry_run=true check every setting as the run does, before any work; a dry run says what the run would do.
In-process, and without training except where a cached run is needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from gan_repro.cli import resume_command
from gan_repro.config import config_dir
from gan_repro.pipeline import run
from gan_repro.plan import plan_lines
from tests.helpers import TINY, compose_config, run_cli
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration

CONF = str(config_dir())
# (flags, the overrides they go with, exit code, what the output holds). seed=-1 where a flag would run a job:
# the job is refused before any work (a sweep reports its failed job and exits 1).
FLAGS = [
    (["--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-c", "job"], ["seed=3"], 0, "seed: 3"),
    (["--cfg", "all"], ["seed=3"], 0, "hydra:"),
    (["--cfg", "hydra"], ["seed=3"], 0, "job_logging:"),
    (["--cfg", "job", "--package", "train"], ["train.epochs=30"], 0, "# @package train\nepochs: 30"),
    (["--cfg", "job", "-p", "train"], ["train.epochs=30"], 0, "# @package train\nepochs: 30"),
    (["--cfg", "job", "--resolve"], ["train.batch_size=32"], 0, "batch_size: 32"),
    (["--help"], ["seed=3"], 0, "Companion commands"),
    (["-h"], ["seed=3"], 0, "Companion commands"),
    (["--hydra-help"], ["hydra.job.name=demo"], 0, "== Flags =="),  # Hydra's help takes hydra.* overrides
    (["--info"], ["seed=3"], 0, "Installed Hydra Plugins"),
    (["-i"], ["seed=3"], 0, "Installed Hydra Plugins"),
    (["-i", "defaults"], ["seed=3"], 0, "Defaults List"),
    (["--multirun"], ["seed=-1"], 1, "error: seed:"),
    (["-m"], ["seed=-1"], 1, "error: seed:"),
    (["--run"], ["seed=-1"], 2, "error: seed:"),
    (["-r"], ["seed=-1"], 2, "error: seed:"),
    (["--config-dir", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cd", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--config-name", "config", "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cn", "config", "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--config-path", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cp", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--shell-completion"], ["install=bash"], 0, "complete"),
    (["-sc"], ["install=bash"], 0, "complete"),
    (["--version"], ["seed=3"], 0, "Hydra 1."),
]


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize(("flags", "overrides", "code", "text"), FLAGS, ids=[" ".join(f[0]) for f in FLAGS])
def test_every_hydra_flag_works_before_or_after_the_overrides(
    flags: list[str], overrides: list[str], code: int, text: str, where: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a job's folder, and a sweep's, land under outputs/ here
    arguments = [*flags, *overrides] if where == "before" else [*overrides, *flags]
    returned, output = call_main(arguments)
    assert (returned, text in output) == (code, True), output
    assert "unrecognized arguments" not in output


def test_overrides_on_both_sides_of_a_flag_all_count() -> None:
    code, output = call_main(["seed=3", "--cfg", "job", "train.epochs=30", "-p", "train"])
    assert code == 0 and "epochs: 30" in output, output
    code, output = call_main(["seed=3", "--cfg", "job", "train.epochs=30"])
    assert code == 0 and "seed: 3" in output and "epochs: 30" in output, output


# ----------------------------------------------------------------------------- checks before any work
REFUSED = ["seed=-1", "probe.iterations=0", "dataset=mnist"]  # three bad settings: the run names the first


@pytest.mark.parametrize("shown", ["job", "all"])
def test_cfg_refuses_what_the_run_refuses_with_the_same_line(shown: str, tmp_path: Path) -> None:
    run_code, run_output = call_main([*REFUSED, f"hydra.run.dir={tmp_path / 'run'}"])
    code, output = call_main([*REFUSED, "--cfg", shown])
    assert (code, run_code) == (2, 2), output
    assert (
        output.strip()
        == run_output.strip()
        == ("error: seed: must be a whole number in 0..4294967295, got -1 (debug=true shows the traceback)")
    )
    assert not (tmp_path / "run").exists()


def test_cfg_refuses_experiment_updates_own_keys_as_the_run_does(tmp_path: Path) -> None:
    refused = [*TINY, "experiment=updates", "updates.samples=-1"]  # a rule of updates.SETTINGS, not RULES
    run_code, run_output = call_main([*refused, f"hydra.run.dir={tmp_path / 'run'}"])
    code, output = call_main([*refused, "--cfg", "job"])
    assert (code, run_code) == (2, 2) and output.strip() == run_output.strip(), output
    assert output.startswith("error: updates.samples: ") and not (tmp_path / "run").exists()


def test_a_sweep_value_of_the_wrong_type_is_refused_before_any_job(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    code, output = call_main(["-m", *TINY, "seed=1,abc", f"hydra.sweep.dir={sweep}"])
    assert (code, output.strip()) == (2, "error: seed: must be a whole number in 0..4294967295, got 'abc'")
    assert not sweep.exists()


def test_cfg_hydra_shows_hydras_settings_alone(tmp_path: Path) -> None:
    code, output = call_main([*REFUSED, "--cfg", "hydra"])  # the job's settings are not what it shows
    assert code == 0 and "job_logging:" in output and "error" not in output, output


def test_dry_run_plans_without_a_run_folder(tmp_path: Path) -> None:
    code, output = call_main([*TINY, "dry_run=true", f"hydra.run.dir={tmp_path / 'run'}"])
    assert code == 0, output
    assert output.splitlines() == [
        "dry run: every setting passes the run's checks; nothing is computed or written",
        "data: digits, 1,797 images (1,541 to train on, 256 held out)",  # 1541 // 64 = 24 batches an epoch
        "train: 2 epochs x 24 iterations = 48 iterations; computed (cache=false)",
        "probe: 2 snapshots x 2 critics x 12 iterations = 48 iterations; computed (cache=false)",
    ]
    assert not (tmp_path / "run").exists()


def test_dry_run_refuses_what_the_run_refuses(tmp_path: Path) -> None:
    code, output = call_main([*TINY, "dry_run=true", "train.batch_size=5000"])  # found when the data is read
    assert code == 2 and output.startswith("error: train.batch_size: 5000 is larger than the dataset"), output


def test_dry_run_says_which_stages_the_cache_or_the_folder_holds(tmp_path: Path) -> None:
    cached = [
        *TINY,
        "cache=true",
        f"cache_dir={tmp_path / 'cache'}",
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
    ]
    run(compose_config(cached), tmp_path / "first")
    code, output = call_main([*cached, "dry_run=true", f"hydra.run.dir={tmp_path / 'second'}"])
    assert code == 0 and not (tmp_path / "second").exists(), output
    train, probe = output.splitlines()[2:]
    assert f"; from the cache ({tmp_path / 'cache' / 'train'}/" in train, train
    assert f"; from the cache ({tmp_path / 'cache' / 'probe'}/" in probe, probe
    first = f"hydra.run.dir={tmp_path / 'first'}"
    code, output = call_main([*cached, "dry_run=true", first])
    assert code == 0, output
    assert [line.rsplit("; ", 1)[1] for line in output.splitlines()[2:]] == [
        "done in this run folder already"
    ] * 2
    code, output = call_main([*cached, "probe.iterations=9", "dry_run=true", first])  # the run would refuse
    assert code == 2 and output.startswith("error: resume: ") and "(probe differ)" in output, output


def test_dry_run_counts_the_noise_sweep() -> None:
    cfg = compose_config(["experiment=noise", "dataset=digits", "cache=false", "probe.control=true"])
    probe = plan_lines(cfg, torch.device("cpu"))[-1]
    assert probe == (
        "probe: 3 snapshots and the negative control x 5 noise levels x 1 critic x 1,000 iterations = "
        "20,000 iterations; computed (cache=false)"
    )


def test_dry_run_counts_the_updates_stage() -> None:
    stages = "updates.d_stages=[0,10,9000]"
    cfg = compose_config(["experiment=updates", "dataset=digits", "cache=false", stages])
    assert plan_lines(cfg, torch.device("cpu"))[-1] == (  # 9000 clipped to the probe's 4,000
        "updates: 3 snapshots x (gan: D trained 4,000 iterations; 3 D stages x 2 costs x 20 G steps) = "
        "12,000 D iterations and 360 G steps; computed (cache=false)"
    )
    critics = compose_config(["experiment=updates_critics", "dataset=digits", "cache=false", stages])
    assert plan_lines(critics, torch.device("cpu"))[-1] == (  # each critic within its own length
        "updates: 3 snapshots x (gan: D trained 500 iterations; 3 D stages x 2 costs x 20 G steps; "
        "wgan: D trained 2,000 iterations; 3 D stages x 1 cost x 20 G steps; "
        "wgan_gp: D trained 2,000 iterations; 3 D stages x 1 cost x 20 G steps; "
        "lsgan: D trained 500 iterations; 3 D stages x 1 cost x 20 G steps; "
        "hinge: D trained 500 iterations; 3 D stages x 1 cost x 20 G steps; "
        "gan_r1: D trained 500 iterations; 3 D stages x 2 costs x 20 G steps) = "
        "18,000 D iterations and 1,440 G steps; computed (cache=false)"
    )
    assert not plan_lines(compose_config(["dataset=digits"]), torch.device("cpu"))[-1].startswith("updates")


def test_a_sweep_refuses_dry_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = call_main(["-m", *TINY, "dry_run=true", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert code == 1 and "error: dry_run: plans one run" in output, output


def test_dry_run_of_a_dataset_still_to_download_says_so(tmp_path: Path) -> None:
    cfg = compose_config(["dataset=mnist", f"dataset.root={tmp_path / 'mnist'}", "dataset.download=true"])
    assert plan_lines(cfg, torch.device("cpu"))[1:] == [
        f"data: mnist is downloaded into {tmp_path / 'mnist'} first; its size, and so the iterations, are "
        "known once it is there"
    ]
    assert not (tmp_path / "mnist").exists()  # nothing fetched


def test_resume_command_quotes_lists() -> None:
    command = resume_command(Path("/runs/a b"), ["train.snapshot_epochs=[1,5]", "seed=3", "hydra.run.dir=/x"])
    assert command == "gan-repro 'train.snapshot_epochs=[1,5]' seed=3 'hydra.run.dir=/runs/a b'"


def test_help_describes_the_tool() -> None:
    result = run_cli("--help", cwd=Path.cwd(), timeout=120)
    assert result.returncode == 0, result.stderr
    for text in (
        "Figures 1-3",
        "dataset: celeba, cifar10, digits",
        "experiment: control, critics, fig1",
        "critic: gan, gan_r1, hinge, linear, lsgan, wgan, wgan_gp",
        "gan-repro-plot RUN_DIR",
        "gan-repro-check RUN_DIR|SWEEP_DIR",
        "gan-repro-bench",
        "gan-repro-prepare",
        "Exit codes",
    ):
        assert text in result.stdout, text
    named = set(re.findall(r"\w+", result.stdout.split("Launchers for sweeps", 1)[1].split("Exit codes")[0]))
    ours = {path.stem for path in (config_dir() / "hydra" / "launcher").glob("*.yaml")}
    assert {"basic", "joblib", "submitit_local", "submitit_slurm"} | ours <= named  # Hydra's and ours
