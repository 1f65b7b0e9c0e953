"""Speed settings change how the training stage computes, not what: the CPU path with them on and off."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_repro.cli import bench_main
from gan_repro.config import check_config
from gan_repro.data import TensorImages, place_dataset
from gan_repro.errors import ConfigError
from gan_repro.logger import CSVLogger
from gan_repro.pipeline import train_stage
from tests.helpers import TINY, compose_config, load_dataset

pytestmark = pytest.mark.integration

TRAIN_ONLY = ["train.epochs=1", "train.snapshot_epochs=[1]"]


def train_rows(tmp_path: Path, name: str, *overrides: str) -> pd.DataFrame:
    """train.csv of a one-epoch tiny training stage with these overrides."""
    cfg = compose_config([*TINY, *TRAIN_ONLY, *overrides])
    run_dir = tmp_path / name
    run_dir.mkdir()
    torch.manual_seed(cfg.seed)
    train_stage(cfg, dataset=load_dataset(cfg.dataset), run_dir=run_dir, device=torch.device("cpu"))
    return pd.read_csv(run_dir / "train.csv")


def test_channels_last_gives_the_same_numbers(tmp_path: Path) -> None:
    plain = train_rows(tmp_path, "plain", "performance.channels_last=false")
    nhwc = train_rows(tmp_path, "nhwc", "performance.channels_last=true")
    # the same fp32 math in another summation order: equal to rounding over the first steps
    columns = ["d_loss", "g_loss"]
    pd.testing.assert_frame_equal(plain[columns].head(5), nhwc[columns].head(5), rtol=1e-4, atol=0)
    assert (plain["d_accuracy"].head(5) == nhwc["d_accuracy"].head(5)).all()


def test_buffered_logging_and_cudnn_switch_are_exact_on_cpu(tmp_path: Path) -> None:
    reference = train_rows(tmp_path, "a", "performance.log_buffer=1", "performance.cudnn_benchmark=false")
    switched = train_rows(tmp_path, "b", "performance.log_buffer=7", "performance.cudnn_benchmark=true")
    pd.testing.assert_frame_equal(reference, switched, check_exact=True)


def test_bf16_autocast_trains_with_finite_costs(tmp_path: Path) -> None:
    fp32 = train_rows(tmp_path, "fp32")
    bf16 = train_rows(tmp_path, "bf16", "performance.autocast=bf16")
    assert bf16[["d_loss", "g_loss"]].notna().all().all()
    # bf16 has 8 bits of mantissa: the first step's costs agree to about 1%
    assert bf16["d_loss"].iloc[0] == pytest.approx(fp32["d_loss"].iloc[0], rel=0.02)


def test_logger_buffers_rows_and_writes_them_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    with CSVLogger(path, ["step", "value"], buffer_rows=3) as logger:
        assert logger.log({"step": 1, "value": torch.tensor(0.5)}) == []
        assert logger.log({"step": 2, "value": torch.tensor(1e-30, dtype=torch.float64)}) == []
        assert pd.read_csv(path).empty  # nothing written until the chunk is full
        written = logger.log({"step": 3, "value": torch.tensor(2.0)})
        assert [row["step"] for row in written] == [1, 2, 3] and written[1]["value"] == 1e-30
        logger.log({"step": 4, "value": 4.0})
    assert pd.read_csv(path)["step"].tolist() == [1, 2, 3, 4]  # closing writes the rest


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ("performance.autocast=fp16", "performance.autocast"),
        ("performance.compile_mode=fast", "performance.compile_mode"),
        ("performance.channels_last=1", "performance.channels_last"),  # not read as true
        ("performance.channels_last=maybe", "performance.channels_last"),
        ("performance.log_buffer=0", "performance.log_buffer"),
        ("performance.data_on_device=true", "performance.data_on_device"),
    ],
)
def test_bad_performance_settings_name_the_setting(override: str, setting: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(compose_config([*TINY, override]))
    assert error.value.setting == setting


def test_datasets_stay_on_the_cpu_without_a_gpu() -> None:
    dataset = TensorImages(torch.zeros(4, 1, 8, 8, dtype=torch.uint8))
    assert place_dataset(dataset, torch.device("cpu"), "auto") is dataset


def test_benchmark_runs_and_reports_both_loops(tmp_path: Path, capsys) -> None:
    output = tmp_path / "bench.json"
    assert (
        bench_main(
            [
                "dataset.image_size=16",
                "model.ngf=8",
                "model.ndf=8",
                "--iterations",
                "3",
                "--repeats",
                "1",
                "--warmup",
                "1",
                "--probe-iterations",
                "1",
                "--num-workers",
                "0",
                "--json",
                str(output),
            ]
        )
        == 0
    )
    result = json.loads(output.read_text())
    assert result["reference_images_per_s"] > 0 and result["ours_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["ours_images_per_s"] / result["reference_images_per_s"])
    assert set(result["probe"]) >= {"d_step_ms", "logged_two_pass_ratio", "logged_batched_ratio"}
    assert "| ratio (ours / reference) |" in capsys.readouterr().out
    assert bench_main(["--iterations", "0"]) == 2
    assert bench_main(["performance.autocast=fp8", "--iterations", "1"]) == 2
    assert bench_main(["no_such_key=1", "--iterations", "1"]) == 2


@pytest.mark.slow
def test_torch_compile_gives_the_same_numbers(tmp_path: Path) -> None:
    eager = train_rows(tmp_path, "eager")
    compiled = train_rows(tmp_path, "compiled", "performance.compile=true")
    pd.testing.assert_frame_equal(
        eager[["d_loss", "g_loss"]].head(5), compiled[["d_loss", "g_loss"]].head(5), rtol=1e-4, atol=0
    )


def test_bench_help_shows_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        bench_main(["--help"])
    assert "(default: 100)" in capsys.readouterr().out
