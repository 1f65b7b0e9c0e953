"""Bad input and untrusted files: one-line refusals, never a traceback, nothing changed outside the run
folder."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from gan_repro.cli import main
from gan_repro.data import BadImage, decode_image
from gan_repro.errors import DatasetError
from gan_repro.pipeline import run
from tests.helpers import TINY, compose_config

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------- images
def image_folder(root: Path, good: int, truncated: int) -> Path:
    """good random 20x20 PNGs and `truncated` PNGs cut in half."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(good + truncated):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(buffer, format="PNG")
        data = buffer.getvalue()
        (root / f"{index:03d}.png").write_bytes(data if index < good else data[: len(data) // 2])
    return root


def folder_config(root: Path, policy: str, prepare: bool = False):
    return compose_config(
        TINY
        + [
            "dataset=image_folder",
            f"dataset.root={root}",
            "dataset.image_size=16",
            f"dataset.bad_images={policy}",
            "train.num_workers=0",
            "plot.formats=[png]",
            f"dataset.prepare={str(prepare).lower()}",
        ]
    )


@pytest.mark.parametrize("prepare", [False, True], ids=["lazy", "prepared"])
def test_truncated_image_stops_the_run_naming_it(tmp_path: Path, prepare: bool) -> None:
    root = image_folder(
        tmp_path / "images", good=90, truncated=2
    )  # 69 to train on, both truncated among them
    with pytest.raises(DatasetError) as error:
        run(folder_config(root, "stop", prepare), tmp_path / "run")
    assert error.value.setting == "dataset.bad_images" and ".png" in error.value.message


@pytest.mark.parametrize("prepare", [False, True], ids=["lazy", "prepared"])
def test_truncated_images_are_skipped_and_counted(tmp_path: Path, caplog, prepare: bool) -> None:
    root = image_folder(
        tmp_path / "images", good=88, truncated=2
    )  # 68 to train on (both truncated); 64 an epoch
    with caplog.at_level(logging.WARNING, logger="gan_repro"):
        run(folder_config(root, "skip", prepare), tmp_path / "run")
    expected = (
        "skipped 2 unreadable images (dataset.bad_images=skip)"
        if prepare
        else "unreadable images so far (dataset.bad_images=skip)"
    )
    assert expected in caplog.text
    assert (tmp_path / "run" / "probe.csv").is_file()


def test_decompression_bomb_guard_stays_on(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1600 pixels: over 2x the limit, an error in PIL
    result = decode_image(lambda: path, str(path), 16, 3)
    assert isinstance(result, BadImage) and "too many pixels" in result.reason
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 pixels: over the limit, PIL only warns
    result = decode_image(lambda: path, str(path), 16, 3)
    assert isinstance(result, BadImage) and "too many pixels" in result.reason


# ----------------------------------------------------------------------------- properties
def call_main(arguments: list[str]) -> tuple[int, str]:
    """Run the console entry in-process; return its exit code and what it printed to stderr."""
    stderr, stdout = io.StringIO(), io.StringIO()
    old_argv = sys.argv
    sys.argv = ["gan-repro", *arguments]
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = old_argv
    return code, stderr.getvalue() + stdout.getvalue()


def tree_digest(root: Path, skip: Path) -> dict[str, str]:
    """sha256 of every file under root, except under skip."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and skip not in p.parents
    }


letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
not_a_whole_number = st.one_of(
    st.integers(max_value=0).map(str),
    st.floats(allow_nan=True).map(repr),
    letters,
    st.just("[1,2]"),
    st.just("null"),
)
BAD_OVERRIDES = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "train.epochs",
                "train.batch_size",
                "probe.iterations",
                "probe.log_every",
                "plot.window",
                "train.log_every",
                "distance.samples",
            ]
        ),
        not_a_whole_number,
    ).map(lambda kv: [f"{kv[0]}={kv[1]}"]),
    st.tuples(st.sampled_from(["dataset", "model", "loss", "noise", "scale", "experiment"]), letters)
    .filter(
        lambda kv: (
            kv[1]
            not in {
                "digits",
                "mnist",
                "dcgan",
                "mlp",
                "minimax",
                "none",
                "linear",
                "small",
                "paper",
                "noise",
                "constant",
                "schedule",
                "celeba",
                "lsun",
                "fig1",
                "fig2",
                "fig3",
                "cifar",
                "exponential",
            }
        )
    )
    .map(lambda kv: [f"{kv[0]}={kv[1]}"]),
    st.tuples(
        st.sampled_from(["device", "probe.dtype", "on_nonfinite", "dataset.name", "model.name"]), letters
    )
    .filter(
        lambda kv: (
            kv[1]
            not in {
                "auto",
                "cpu",
                "cuda",
                "mps",
                "float32",
                "float64",
                "stop",
                "warn",
                "digits",
                "mnist",
                "dcgan",
                "mlp",
                "lsun",
                "celeba",
            }
        )
    )
    .map(lambda kv: [f"{kv[0]}={kv[1]}"]),
    st.lists(
        st.integers(min_value=-3, max_value=40).filter(lambda e: not 1 <= e <= 25), min_size=1, max_size=3
    ).map(lambda epochs: [f"train.snapshot_epochs=[{','.join(map(str, epochs))}]"]),
    st.one_of(st.floats(max_value=-1e-9), st.just(float("nan")), st.just(float("inf"))).map(
        lambda sigma: ["noise=constant", f"noise.std={sigma!r}"]
    ),
    st.sampled_from(
        [
            ["train.epochs=["],
            ["a=b=c"],
            ["train.epoch=3"],
            ["=3"],
            ["train.epochs='"],
            ["dataset.image_size=48"],
            ["seed=x"],
            ["probe.noise_stds=[0,-1]"],
        ]
    ),
)
CORRUPT_FILES = st.tuples(
    st.sampled_from(
        [
            ("mnist", "train-images-idx3-ubyte.gz"),
            ("mnist", "train-images-idx3-ubyte"),
            ("cifar10", "cifar-10-batches-py/data_batch_1"),
            ("cifar10", "cifar-10-batches-bin/data_batch_1.bin"),
            ("fashion_mnist", "train-images-idx3-ubyte.gz"),
        ]
    ),
    st.one_of(
        st.binary(max_size=3000),
        st.just(b"\x1f\x8b\x08\x00garbage"),
        st.just(b"\x00\x00\x08\x03" + b"\x00" * 12),
        st.just(b"\x80\x02}q\x00."),
        st.just(b"\x00" * 3073 * 2 + b"\x01"),
    ),
)
RUN_NUMBER = itertools.count()


# No shrinking: each example runs the program, and a failure is reported as generated (with its seed).
QUICK = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@settings(max_examples=40, **QUICK)
@given(overrides=BAD_OVERRIDES)
def test_malformed_overrides_give_one_line_and_nonzero_exit(tmp_path: Path, overrides: list[str]) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    run_dir = tmp_path / "runs" / str(next(RUN_NUMBER))
    before = tree_digest(tmp_path, tmp_path / "runs")
    code, output = call_main([*TINY, *overrides, f"hydra.run.dir={run_dir}"])
    assert code != 0, (overrides, output)
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, (overrides, output)
    assert tree_digest(tmp_path, tmp_path / "runs") == before
    assert not (run_dir / "train.csv").exists()


@settings(max_examples=30, **QUICK)
@given(case=CORRUPT_FILES)
def test_corrupt_data_files_give_one_line_and_nonzero_exit(tmp_path: Path, case) -> None:
    (dataset, relative), payload = case
    root = tmp_path / "data" / str(next(RUN_NUMBER))
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_bytes(payload)
    run_dir = tmp_path / "runs" / root.name
    before = tree_digest(tmp_path, tmp_path / "runs")
    code, output = call_main(
        [*TINY, f"dataset={dataset}", f"dataset.root={root}", f"hydra.run.dir={run_dir}"]
    )
    assert code == 2, (dataset, relative, payload[:40], output)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert "Traceback" not in output, output
    assert len(errors) == 1 and errors[0].startswith("error: dataset.root:"), output
    assert tree_digest(tmp_path, tmp_path / "runs") == before
