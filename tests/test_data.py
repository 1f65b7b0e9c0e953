"""Every dataset format, read from small files this test writes in that exact format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_repro.data import epoch_order, infinite_batches, iterate_epoch
from gan_repro.errors import EXIT_CODES, ConfigError, DatasetError
from tests.helpers import TINY, compose_config, load_dataset, write_idx, write_images, write_lmdb
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration


def dataset_for(name: str, root: Path | None, *extra: str, image_size: int = 16):
    """The dataset of the `dataset` group `name`, as `gan-repro dataset=name dataset.root=root` loads it."""
    overrides = [f"dataset={name}", f"dataset.image_size={image_size}", *extra]
    if root is not None:
        overrides.append(f"dataset.root={root}")
    return load_dataset(compose_config(overrides).dataset)


def check_images(dataset, count: int, channels: int, size: int) -> torch.Tensor:
    """All items: float (C, size, size) in [-1, 1]; returns them stacked."""
    assert len(dataset) == count
    images = torch.stack([dataset[i] for i in range(len(dataset))])
    assert images.shape == (count, channels, size, size) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    return images


# ----------------------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)
@pytest.mark.parametrize("name,subfolder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
@pytest.mark.parametrize("gz", [True, False])
def test_idx(tmp_path: Path, name: str, subfolder: str, gz: bool) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    pixels[0] = 0
    pixels[1] = 255
    write_idx(tmp_path / subfolder / "raw" / "train-images-idx3-ubyte", pixels, gz=gz)
    images = check_images(dataset_for(name, tmp_path, image_size=32), 5, 1, 32)
    assert torch.all(images[0] == -1) and torch.all(images[1] == 1)  # black -> -1, white -> +1


def test_idx_test_split_at_native_size(tmp_path: Path) -> None:
    pixels = np.arange(3 * 16 * 16, dtype=np.uint64).reshape(3, 16, 16) % 256
    write_idx(tmp_path / "t10k-images-idx3-ubyte", pixels, gz=True)
    images = check_images(dataset_for("mnist", tmp_path, "dataset.split=t10k", image_size=16), 3, 1, 16)
    expected = torch.from_numpy(pixels.astype(np.float32)) / 127.5 - 1  # same size: no resampling
    assert torch.allclose(images[:, 0], expected)


def test_idx_truncated_file_is_refused(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)), gz=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="truncated"):
        dataset_for("mnist", tmp_path)


# ----------------------------------------------------------------------------- CIFAR-10
def cifar_pixels(count: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)


def test_cifar_binary(tmp_path: Path) -> None:
    pixels = cifar_pixels(4)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for index, chunk in ((1, pixels[:3]), (2, pixels[3:])):
        labels = np.arange(len(chunk), dtype=np.uint8)[:, None]
        records = np.hstack([labels, chunk.reshape(len(chunk), -1)])
        (folder / f"data_batch_{index}.bin").write_bytes(records.tobytes())
    images = check_images(dataset_for("cifar10", tmp_path, image_size=32), 4, 3, 32)
    assert torch.allclose(images, torch.from_numpy(pixels).float() / 127.5 - 1)


def test_cifar_python_pickles(tmp_path: Path) -> None:
    """The python release: dicts with byte keys, pickled from numpy (protocol 2, as the real files)."""
    pixels = cifar_pixels(6)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for index in range(1, 6):
        chunk = pixels[:2] if index == 1 else pixels[index - 1 : index]  # 2 + 1 + 1 + 1 + 1 = 6 images
        batch = {
            b"batch_label": b"training batch",
            b"labels": [0] * len(chunk),
            b"data": chunk.reshape(len(chunk), -1),
            b"filenames": [b"x.png"] * len(chunk),
        }
        (folder / f"data_batch_{index}").write_bytes(pickle.dumps(batch, protocol=2))
    images = check_images(dataset_for("cifar10", tmp_path, image_size=16), 6, 3, 16)
    assert images.std() > 0.1


def test_crafted_cifar_pickle_does_not_run_code(tmp_path: Path) -> None:
    """A pickle whose payload calls os.system must be refused without running anything."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(DatasetError, match="refusing to load"):
        dataset_for("cifar10", tmp_path)
    assert not marker.exists()


# ----------------------------------------------------------------------------- image folders, CelebA
def test_image_folder_resize_and_crop(tmp_path: Path) -> None:
    write_images(tmp_path / "a", [(40, 30), (30, 50)], suffix=".png")
    write_images(tmp_path / "b" / "deeper", [(64, 64)], mode="L", suffix=".jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    check_images(dataset_for("image_folder", tmp_path), 3, 3, 16)
    check_images(dataset_for("image_folder", tmp_path, "dataset.channels=1"), 3, 1, 16)
    check_images(dataset_for("image_folder", tmp_path, "dataset.max_images=2"), 2, 3, 16)


def test_center_crop_keeps_the_center(tmp_path: Path) -> None:
    """A 48x16 image: left and right thirds black, middle white -> a white 16x16 square."""
    picture = np.zeros((16, 48, 3), np.uint8)
    picture[:, 16:32] = 255
    tmp_path.joinpath("images").mkdir()
    Image.fromarray(picture).save(tmp_path / "images" / "x.png")
    images = check_images(dataset_for("image_folder", tmp_path), 1, 3, 16)
    assert images[0, :, :, 2:-2].min() > 0.9


def test_celeba_layout(tmp_path: Path) -> None:
    write_images(tmp_path / "img_align_celeba", [(178, 218)] * 3, suffix=".jpg")
    check_images(dataset_for("celeba", tmp_path), 3, 3, 16)


# ----------------------------------------------------------------------------- LSUN (LMDB)
def test_lsun_lmdb(tmp_path: Path) -> None:
    path = write_lmdb(tmp_path / "bedroom_train_lmdb", ["WEBP", "JPEG", "PNG", "JPEG"])
    dataset = dataset_for("lsun", tmp_path)
    check_images(dataset, 4, 3, 16)
    check_images(dataset_for("lsun", path, "dataset.max_images=2"), 2, 3, 16)  # root = the LMDB folder itself
    dataset = dataset_for("lsun", tmp_path, "dataset.prepare=false")  # decoded lazily, in DataLoader workers
    order = epoch_order(dataset, torch.Generator().manual_seed(0))
    batches = list(
        iterate_epoch(dataset, order, batch_size=2, device=torch.device("cpu"), num_workers=1)
    )  # the handle crosses into a worker
    assert len(batches) == 2 and batches[0].shape == (2, 3, 16, 16)


# ----------------------------------------------------------------------------- digits and batching
def test_digits_default() -> None:
    images = check_images(dataset_for("digits", None, image_size=32), 1797, 1, 32)
    assert images.min() == -1 and images.max() > 0.9


def test_epoch_batches_drop_the_last_partial_batch() -> None:
    dataset = dataset_for("digits", None)
    order = epoch_order(dataset, torch.Generator().manual_seed(0))
    batches = list(iterate_epoch(dataset, order, batch_size=500, device=torch.device("cpu")))
    assert [b.shape[0] for b in batches] == [500, 500, 500]
    later = list(iterate_epoch(dataset, order, batch_size=500, device=torch.device("cpu"), start_batch=2))
    assert len(later) == 1 and torch.equal(later[0], batches[2])  # resuming mid-epoch: the same batches
    stream = infinite_batches(
        dataset, batch_size=500, rng=torch.Generator().manual_seed(0), device=torch.device("cpu")
    )
    assert sum(next(stream).shape[0] for _ in range(7)) == 3500  # keeps going past one epoch


# ----------------------------------------------------------------------------- bad roots
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "celeba", "image_folder", "lsun"])
def test_missing_and_empty_roots_name_the_setting(tmp_path: Path, name: str) -> None:
    for root, message, kind in [
        (None, "needs its files", ConfigError),  # a setting to give
        (tmp_path / "absent", "is not a folder", DatasetError),  # files that are not there
        (tmp_path, "is empty", DatasetError),
    ]:
        with pytest.raises(kind, match=message) as error:
            dataset_for(name, root)
        assert error.value.setting == "dataset.root"


def test_a_root_without_the_datasets_files_exits_2_through_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "mnist"
    root.mkdir()
    (root / "readme.txt").write_text("nothing here")
    tiny = [override for override in TINY if not override.startswith("dataset=")]
    code, output = call_main(
        [*tiny, "dataset=mnist", f"dataset.root={root}", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    assert code == EXIT_CODES[DatasetError] == 2, output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: dataset.root: no train-images-idx3-ubyte"), output


def test_root_without_the_right_files(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    for name in ("mnist", "cifar10", "image_folder", "lsun"):
        with pytest.raises(DatasetError) as error:
            dataset_for(name, tmp_path)
        assert error.value.setting == "dataset.root"
