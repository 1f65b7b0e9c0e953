"""All three stages through Hydra's compose API on a tiny setting, and the command line itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_repro.checkpoints import load_generator
from gan_repro.cli import plot_main
from gan_repro.columns import columns_of
from gan_repro.errors import CheckpointRefused, GanReproError
from gan_repro.pipeline import run
from tests.helpers import TINY, compose_config, run_cli

pytestmark = pytest.mark.integration


def test_all_stages_on_a_tiny_setting(tiny_run) -> None:
    _, tmp_path, summary = tiny_run

    train = pd.read_csv(tmp_path / "train.csv")
    assert list(train.columns) == columns_of("train.csv")
    assert (train["noise_std"] == 0).all()
    assert len(train) == 2 * ((1797 - 256) // 64)  # every iteration of 2 epochs (256 images held out)
    assert train["iteration"].tolist() == list(range(1, len(train) + 1))
    assert set(train["epoch"]) == {1, 2}

    probe = pd.read_csv(tmp_path / "probe.csv")
    assert list(probe.columns) == columns_of("probe.csv")
    # per snapshot: the paper's D, then the linear control, each at iterations 0 (the fresh D), 3, 6, 9, 12
    assert probe["snapshot_iteration"].tolist() == [24] * 10 + [48] * 10  # 24 G steps an epoch
    assert probe["snapshot_epoch"].tolist() == [1.0] * 10 + [2.0] * 10
    assert probe["critic"].tolist() == (["gan"] * 5 + ["linear"] * 5) * 2
    assert probe["iteration"].tolist()[:10] == [0, 3, 6, 9, 12] * 2
    paper = probe[probe["critic"] == "gan"]
    assert (paper[["d_loss", "grad_norm_minimax", "grad_norm_nonsaturating"]] > 0).all().all()
    assert probe[["d_accuracy", "d_accuracy_heldout"]].stack().between(0, 1).all()
    assert probe.loc[probe["critic"] == "linear", "grad_norm_minimax"].isna().all()  # no gradient of G
    assert paper["grad_relvar_nonsaturating"].notna().tolist() == [True, False, False, False, False] * 2
    assert (probe["noise_std"] == 0).all() and probe["sweep_noise_std"].isna().all()

    snapshots = pd.read_csv(tmp_path / "snapshots.csv")
    assert (
        snapshots["iteration"].tolist() == [24, 48]
        and snapshots["epoch"].tolist() == [1, 2]
        and (snapshots["dimension"] == 256).all()
    )
    assert (snapshots["sliced_wasserstein"] > 0).all()
    assert (snapshots["wasserstein_exact"] >= snapshots["sliced_wasserstein"]).all()  # sliced W1 <= W1

    for name in ("fig1", "fig2", "fig3"):
        for fmt in ("png", "pdf"):
            assert (tmp_path / "figures" / f"{name}.{fmt}").stat().st_size > 1000
    assert (tmp_path / "samples" / "iteration_000024.png").is_file()
    assert (tmp_path / "samples" / "iteration_000048.png").is_file()
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == ["iteration_000024.pt", "iteration_000048.pt", "last.pt"]
    assert (tmp_path / "config.yaml").read_text().count("image_size: 16") == 1

    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["snapshots"].keys() == {"24", "48"} and saved == json.loads(json.dumps(summary))
    for snapshot in saved["snapshots"].values():
        assert {"start", "first", "end", "first_point", "last_point"} <= snapshot["grad_norm_minimax"].keys()
        assert "iterations_to_accuracy_1" in snapshot and snapshot["sliced_wasserstein"] > 0
    assert [claim["id"] for claim in saved["claims"]] == [
        "fig1_heldout_accuracy",
        "fig1_d_loss_decay",
        "fig2_minimax_decay",
        "fig3_nonsaturating_growth",
        "fig3_curve_noise",
        "fig3_spread_growth",
        "linear_shortcut",
    ]
    assert all("threshold" in claim and "paper" in claim for claim in saved["claims"])


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    overrides = TINY + [
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
        "probe.iterations=4",
        "plot.formats=[png]",
    ]
    run(compose_config(overrides), tmp_path / "a")
    run(compose_config(overrides), tmp_path / "b")
    for name in ("train.csv", "probe.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_probe_keeps_the_generator_frozen(tiny_run) -> None:
    tiny_config, tmp_path, _ = tiny_run
    state = torch.load(tmp_path / "checkpoints" / "iteration_000024.pt", weights_only=True)
    generator = load_generator(
        tmp_path / "checkpoints" / "iteration_000024.pt",
        tiny_config.model,
        tiny_config.dataset,
        device=torch.device("cpu"),
    )
    for name, value in generator.state_dict().items():
        if "running" not in name and "num_batches" not in name:
            assert torch.equal(value, state["generator"][name]), name


def test_checkpoint_for_another_architecture_is_refused(tiny_run, tmp_path: Path) -> None:
    tiny_config, run_dir, _ = tiny_run
    wider = compose_config(TINY + ["model.ngf=16"])
    with pytest.raises(CheckpointRefused, match="was saved for"):
        load_generator(
            run_dir / "checkpoints" / "iteration_000024.pt",
            wider.model,
            wider.dataset,
            device=torch.device("cpu"),
        )
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointRefused, match="not a gan-repro checkpoint|cannot load"):
        load_generator(
            tmp_path / "bad.pt", tiny_config.model, tiny_config.dataset, device=torch.device("cpu")
        )


def test_plot_entry_redraws_from_csv_alone(tiny_run, tmp_path: Path, capsys) -> None:
    shutil.copytree(tiny_run[1], tmp_path, dirs_exist_ok=True)
    for figure in (tmp_path / "figures").iterdir():
        figure.unlink()
    assert plot_main([str(tmp_path), "--figures", "fig2", "--formats", "svg"]) == 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["fig2.svg", "samples.svg"]
    assert plot_main([str(tmp_path / "nowhere")]) == 2
    assert "nowhere is not a folder" in capsys.readouterr().err
    (tmp_path / "probe.csv").unlink()  # an unfinished run
    assert plot_main([str(tmp_path)]) == 2
    assert "no probe.csv" in capsys.readouterr().err


@pytest.mark.parametrize(
    "experiment,figures",
    [("fig1", ["fig1"]), ("fig2", ["fig2"]), ("fig3", ["fig3"]), ("paper", ["fig1", "fig2", "fig3"])],
)
def test_experiments_select_figures(experiment: str, figures: list[str]) -> None:
    assert list(compose_config([f"experiment={experiment}"]).plot.figures) == figures


def test_paper_scale_is_the_papers_protocol() -> None:
    cfg = compose_config(["scale=paper"])
    assert cfg.dataset.image_size == 64 and cfg.model.ngf == 64 and cfg.model.ndf == 64
    assert cfg.train.batch_size == 64 and cfg.train.epochs == 25
    assert list(cfg.train.snapshot_epochs) == [1, 10, 25]
    assert (cfg.train.lr, cfg.train.beta1, cfg.train.beta2) == (2e-4, 0.5, 0.999)
    assert cfg.probe.iterations == 4000 and cfg.probe.log_every == 1
    lsun = compose_config(["scale=paper", "dataset=lsun", "dataset.root=/data/lsun"])
    assert lsun.dataset.image_size == 64 and lsun.dataset.category == "bedroom"


# ----------------------------------------------------------------------------- the command line
def gan_repro(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m gan_repro.cli ARGS` in a fresh process, its run folder under tmp_path."""
    return run_cli(f"hydra.run.dir={tmp_path / 'run'}", *args, cwd=tmp_path, timeout=300)


BAD_INPUTS = [
    (["dataset=mnist"], "dataset.root"),
    (["dataset=mnist", "dataset.root=/no/such/folder"], "dataset.root"),
    (["dataset=image_folder", "dataset.root={empty}"], "dataset.root"),
    (["dataset.name=imagenet"], "dataset.name"),
    (["dataset.image_size=48"], "dataset.image_size"),
    (["train.snapshot_epochs=[0,10]"], "train.snapshot_epochs"),
    (["train.snapshot_epochs=[1,30]"], "train.snapshot_epochs"),
    (["train.epochs=abc"], "train.epochs"),
    (["probe.dtype=float16"], "probe.dtype"),
    (["device=cuda:7"], "device"),
    (["train.batch_size=5000"], "train.batch_size"),
    (["train.snapshot_iterations=[0]"], "train.snapshot_iterations"),
    (["train.snapshot_iterations=[5,5]"], "train.snapshot_iterations"),
    (["train.snapshot_iterations=7"], "train.snapshot_iterations"),
    (["train.snapshot_epochs=[]"], "train.snapshot_epochs"),  # and no snapshot_iterations: nothing to probe
    (["train.snapshot_iterations=[49]"], "train.snapshot_iterations"),  # TINY: 2 epochs of 24 G steps
    (["train.snapshot_iterations=[24]"], "train.snapshot_iterations"),  # epoch 1's end, listed twice
]


@pytest.mark.parametrize("overrides,setting", BAD_INPUTS)
def test_bad_input_names_the_setting_before_training(
    tmp_path: Path, overrides: list[str], setting: str
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanReproError) as error:  # a ConfigError (a wrong type: while composing), or a
        cfg = compose_config(TINY + [o.format(empty=tmp_path / "empty") for o in overrides])  # DatasetError
        run(cfg, tmp_path / "run")
    assert error.value.setting == setting
    assert not (tmp_path / "run" / "train.csv").exists()  # stopped before any training


@pytest.mark.parametrize("overrides,setting", [BAD_INPUTS[0], BAD_INPUTS[4], BAD_INPUTS[6]])
def test_bad_input_on_the_command_line_is_one_line_and_nonzero(
    tmp_path: Path, overrides: list[str], setting: str
) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    result = gan_repro(tmp_path, "quiet=true", *overrides)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {setting}:"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert (tmp_path / "keep.txt").read_text() == "precious"
    assert not (tmp_path / "run").exists()  # refused before any work: no folder with only .hydra/ and a log


def test_a_run_refused_after_it_began_keeps_its_log(tmp_path: Path) -> None:
    result = gan_repro(tmp_path, "quiet=true", *TINY, "train.batch_size=5000")  # found when the data is read
    assert result.returncode == 2 and result.stderr.startswith("error: train.batch_size:"), result.stderr
    assert (tmp_path / "run" / "log.txt").read_text().strip().endswith(result.stderr.strip())
    assert (tmp_path / "run" / "state.json").is_file()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = gan_repro(tmp_path, "dataset=mnist", "debug=true")
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_unknown_group_option_is_refused_by_hydra(tmp_path: Path) -> None:
    result = gan_repro(tmp_path, "dataset=imagenet")
    assert result.returncode != 0 and "dataset/imagenet" in result.stderr and "Traceback" not in result.stderr


def test_a_run_writes_every_file_with_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o002)
    try:
        run(
            compose_config([*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=3"]),
            tmp_path,
        )
    finally:
        os.umask(previous)
    modes = {
        str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_file()
    }
    assert {
        "figures/fig1.png",
        "samples/iteration_000024.png",
        "checkpoints/iteration_000024.pt",
        "summary.json",
    } <= set(modes)
    assert set(modes.values()) == {0o664}, modes


def test_redraw_with_another_window_keeps_the_claims_and_removes_stale_files(
    tiny_run, tmp_path, capsys
) -> None:
    shutil.copytree(tiny_run[1], tmp_path, dirs_exist_ok=True)
    before = json.loads((tmp_path / "summary.json").read_text())["claims"]
    assert (tmp_path / "figures" / "fig1.pdf").is_file()
    assert plot_main([str(tmp_path), "--window", "20", "--formats", "png"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["claims"] == before  # the run's own window
    assert not (tmp_path / "figures" / "fig1.pdf").exists()  # drawn with another window: gone
    assert "summary.json:" not in capsys.readouterr().err  # nothing changed, nothing said
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["claims"][0]["measured"] = [999]  # as if an older version had computed another value
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert plot_main([str(tmp_path), "--formats", "png"]) == 0
    assert "summary.json: D separates held-out real images" in capsys.readouterr().err  # a change is said


def test_a_refusal_removes_only_a_folder_it_created(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / ".hydra").mkdir(parents=True)
    (mine / "log.txt").write_text("my own log\n")
    result = run_cli(f"hydra.run.dir={mine}", "quiet=true", "dataset=mnist", cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: dataset.root:"), result.stderr
    assert (mine / "log.txt").read_text().startswith("my own log") and (mine / ".hydra").is_dir()
    lab = tmp_path / "lab"  # a lab setting is checked after the folder's lock is taken: still no debris
    result = run_cli(
        f"hydra.run.dir={lab}",
        "quiet=true",
        "experiment=lab_manifold",
        "lab.iterations=0",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: lab.iterations:"), result.stderr
    assert not lab.exists()
