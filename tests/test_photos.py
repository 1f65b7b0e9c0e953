"""dataset=photos: crops of scikit-learn's two bundled photographs, the same pixels on every build and as
scripts/photo_crops.py writes them, refused settings in one line, prepared once and never reused damaged."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_repro import data as data_module
from gan_repro.cache import key_of, training_inputs
from gan_repro.config import check_config
from gan_repro.data import TensorImages, read_dataset, split_dataset
from gan_repro.errors import ConfigError
from gan_repro.prepare import prepared_dataset, prepared_folder
from tests.helpers import REPO, TINY, compose_config, load_dataset

pytestmark = pytest.mark.unit

SMALL = ["dataset=photos", "dataset.count=64", "dataset.image_size=16"]  # 64 crops at 16x16: in a blink


def photos_node(*extra: str, cache_dir: Path | None = None):
    """The `dataset` node of `gan-repro dataset=photos dataset.count=64 dataset.image_size=16 ...`."""
    place = [f"cache_dir={cache_dir}"] if cache_dir else []
    return compose_config([*SMALL, *place, *extra]).dataset


def recipe(count: int, size: int, seed: int) -> np.ndarray:
    """The crops as scripts/photo_crops.py cut them before dataset=photos existed, (count, size, size, 3):
    the reference that data.cut_photo_crops must keep matching."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(rng.integers(48, 161))
        top, left = (
            int(rng.integers(0, photo.shape[0] - side + 1)),
            int(rng.integers(0, photo.shape[1] - side + 1)),
        )
        crop = Image.fromarray(photo[top : top + side, left : left + side]).resize(
            (size, size), Image.BICUBIC
        )
        crops.append(np.asarray(crop))
    return np.stack(crops)


def test_photos_are_rgb_crops_in_range() -> None:
    dataset = load_dataset(photos_node())
    assert isinstance(dataset, TensorImages) and len(dataset) == 64
    assert dataset.images.shape == (64, 3, 16, 16) and dataset.images.dtype == torch.uint8
    images = torch.stack([dataset[i] for i in range(len(dataset))])
    assert images.dtype == torch.float32 and images.min() >= -1 and images.max() <= 1
    assert images.std() > 0.2 and images.flatten(1).std(dim=1).min() > 0  # photographs, not flat squares
    gray = load_dataset(photos_node("dataset.channels=1", "dataset.prepare=false"))
    assert gray.images.shape == (64, 1, 16, 16)


def test_photos_are_the_same_on_every_build_and_move_with_crop_seed() -> None:
    first = read_dataset(photos_node()).images
    assert torch.equal(first, read_dataset(photos_node()).images)  # bit-identical uint8
    assert torch.equal(first, torch.from_numpy(recipe(64, 16, 0)).permute(0, 3, 1, 2))
    other = read_dataset(photos_node("dataset.crop_seed=1")).images
    assert other.shape == first.shape and not torch.equal(first, other)
    assert (first != other).float().mean() > 0.5  # other crops, not a few pixels moved


def test_photos_equal_the_scripts_pngs(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("photo_crops", REPO / "scripts" / "photo_crops.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(tmp_path), "--count", "6", "--size", "16", "--seed", "0"]) == 0
    written = np.stack([np.asarray(Image.open(path)) for path in sorted(tmp_path.glob("crop_*.png"))])
    dataset = read_dataset(photos_node("dataset.count=6")).images
    assert written.shape == (6, 16, 16, 3)
    assert np.array_equal(written, dataset.permute(0, 2, 3, 1).numpy())
    assert np.array_equal(written, recipe(6, 16, 0))


@pytest.mark.parametrize(
    ("override", "setting", "message"),
    [
        ("dataset.count=0", "dataset.count", "must be a whole number >= 1, got 0"),
        ("dataset.max_side=500", "dataset.max_side", "must be a whole number in 1..427, got 500"),
        ("dataset.min_side=0", "dataset.min_side", "must be a whole number in 1..427, got 0"),
        ("dataset.min_side=2.5", "dataset.min_side", "must be a whole number in 1..427, got 2.5"),
        ("dataset.crop_seed=-1", "dataset.crop_seed", "must be a whole number in 0..4294967295, got -1"),
        ("dataset.min_side=200", "dataset.min_side", "200 is larger than dataset.max_side=160; the crop"),
        ("dataset.count=1000000000000", "dataset.count", "1000000000000 crops of 3x16x16 would take"),
    ],
)
def test_bad_photo_settings_are_refused_in_one_line(override: str, setting: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(compose_config([*TINY, *SMALL, override]))
    assert error.value.setting == setting and error.value.message.startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_photos_compose_and_split() -> None:
    cfg = compose_config([*TINY, "dataset=photos"])
    assert cfg.dataset.name == "photos" and cfg.dataset.root is None and cfg.dataset.count == 6400
    assert (cfg.dataset.min_side, cfg.dataset.max_side, cfg.dataset.crop_seed) == (48, 160, 0)
    check_config(cfg)  # no root needed
    dataset = load_dataset(photos_node())
    splits = split_dataset(dataset, fraction=0.1, minimum=256, seed=0)
    assert (len(splits.train), len(splits.heldout)) == (48, 16)  # the minimum takes at most a quarter
    train, heldout = set(splits.train.indices.tolist()), set(splits.heldout.indices.tolist())
    assert not train & heldout and train | heldout == set(range(64))
    real, fake = splits.heldout_halves
    assert len(real) == len(fake) == 8 and real[0].shape == (3, 16, 16)


def test_photos_are_prepared_once_and_keyed_by_their_settings(tmp_path: Path, monkeypatch) -> None:
    cfg = photos_node(cache_dir=tmp_path)
    first = prepared_dataset(cfg)
    assert torch.equal(first.images, read_dataset(cfg).images)
    monkeypatch.setattr(data_module, "cut_photo_crops", lambda *a, **k: pytest.fail("cut again"))
    assert torch.equal(prepared_dataset(cfg).images, first.images)  # reused: nothing cut
    folder = prepared_folder(cfg)
    for override in (
        "dataset.count=65",
        "dataset.min_side=49",
        "dataset.max_side=159",
        "dataset.crop_seed=1",
        "dataset.image_size=32",
        "dataset.channels=1",
    ):
        assert prepared_folder(photos_node(override, cache_dir=tmp_path)) != folder, override
    inputs = training_inputs(compose_config([*TINY, *SMALL]), torch.device("cpu"))
    assert {"count", "min_side", "max_side", "crop_seed"} <= set(inputs["dataset"])  # a trained G's key
    assert "prepared_root" not in inputs["dataset"] and "scikit-learn" in inputs["files"]["bundled_with"]
    other = training_inputs(compose_config([*TINY, *SMALL, "dataset.crop_seed=1"]), torch.device("cpu"))
    assert key_of(other) != key_of(inputs)


@pytest.mark.parametrize("damage", ["truncate", "no manifest", "garbled manifest"])
def test_a_damaged_prepared_photo_array_is_cut_again(tmp_path: Path, damage: str) -> None:
    cfg = photos_node(cache_dir=tmp_path)
    expected = prepared_dataset(cfg).images.clone()
    folder = prepared_folder(cfg)
    if damage == "truncate":  # as if the disk filled up while it was written
        (folder / "images.u8").write_bytes((folder / "images.u8").read_bytes()[:-100])
    elif damage == "no manifest":  # as if killed before the manifest was written
        (folder / "manifest.json").unlink()
    else:
        (folder / "manifest.json").write_text('{"format": "gan-repro prepared images", "shape": [64')
    assert torch.equal(prepared_dataset(cfg).images, expected)
    assert (folder / "images.u8").stat().st_size == expected.numel()
