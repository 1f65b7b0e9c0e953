"""Datasets: every format becomes images scaled to [-1, 1] at `image_size`, shape (C, H, W).

Small datasets (digits, photo crops, MNIST, Fashion-MNIST, CIFAR-10) are decoded once into a
uint8 tensor (N, C, H, W) and batched by indexing; image folders, CelebA and LSUN are decoded
lazily by a DataLoader with workers. A user's own images come from dataset.images._target_ (user_images).
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import math
import pickle
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from gan_repro.errors import ConfigError, DatasetError
from gan_repro.extend import instantiate, is_user_dataset

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
DATASET_NAMES = ("digits", "photos", "mnist", "fashion_mnist", "cifar10", "celeba", "image_folder", "lsun")
BUNDLED_DATASETS = ("digits", "photos")  # shipped with scikit-learn: no root, no download
PHOTO_SIDE = 427  # the shorter side of scikit-learn's two sample photographs (427x640): the largest crop
PHOTO_KEYS = ("count", "min_side", "max_side", "crop_seed")  # with image_size and channels: the crops' pixels
# how the files are fetched, not what they hold
NOT_DATA_KEYS = ("prepare", "prepared_root", "download", "download_url")


# ----------------------------------------------------------------------------- helpers
def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def resize_uint8(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Resize a uint8 batch (N, C, h, w) to (N, C, image_size, image_size), bilinear with antialiasing."""
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    resized = F.interpolate(
        images.float(), size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
    )
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def resize_and_center_crop(image: Image.Image, image_size: int) -> Image.Image:
    """DCGAN's transform: resize the shorter side to image_size, then crop the center square."""
    width, height = image.size
    scale = image_size / min(width, height)
    new_size = (max(image_size, round(width * scale)), max(image_size, round(height * scale)))
    image = image.resize(new_size, Image.BICUBIC)
    left = (new_size[0] - image_size) // 2
    top = (new_size[1] - image_size) // 2
    return image.crop((left, top, left + image_size, top + image_size))


def pil_to_uint8(image: Image.Image, image_size: int, channels: int) -> torch.Tensor:
    """Decode, convert to L or RGB, resize + crop; returns uint8 (C, image_size, image_size)."""
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(resize_and_center_crop(image, image_size), dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


class BadImage(NamedTuple):
    """What a file dataset returns for an image it cannot decode, so the main process can decide."""

    source: str
    reason: str


def decode_image(
    read, source: str, image_size: int, channels: int, *, as_uint8: bool = False
) -> torch.Tensor | BadImage:
    """Decode an image (read() gives a file name or file object) to float (C, S, S) in [-1, 1] (uint8 in
    [0, 255] with as_uint8), or a BadImage.

    PIL's decompression-bomb guard stays on, and its warning (over ~89M pixels) counts as a refusal too."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(read()) as image:
                pixels = pil_to_uint8(image, image_size, channels)
                return pixels if as_uint8 else to_unit_range(pixels)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        return BadImage(source, f"refused, too many pixels ({error})")
    except (OSError, SyntaxError, ValueError) as error:  # unreadable, truncated, not an image
        return BadImage(source, f"{error.__class__.__name__}: {error}")


def collate_images(items: list) -> tuple[torch.Tensor | None, list[BadImage]]:
    """Stack the decodable images of a batch; set the BadImage markers aside."""
    good = [item for item in items if isinstance(item, torch.Tensor)]
    return (torch.stack(good) if good else None), [item for item in items if isinstance(item, BadImage)]


# ----------------------------------------------------------------------------- datasets
class TensorImages(Dataset):
    """Images held in memory as uint8 (N, C, H, W), or the rows `indices` of them (a split, no copy);
    items are float (C, H, W) in [-1, 1]."""

    def __init__(self, images: torch.Tensor, indices: torch.Tensor | None = None):
        assert images.dtype == torch.uint8 and images.ndim == 4, images.shape
        self.images, self.indices = images, indices

    def __len__(self) -> int:
        return self.images.shape[0] if self.indices is None else len(self.indices)

    def rows(self, positions: torch.Tensor) -> torch.Tensor:
        """uint8 (len(positions), C, H, W): the images at these positions of the dataset."""
        positions = positions.to(self.images.device)
        return self.images[positions if self.indices is None else self.indices[positions]]

    def __getitem__(self, index: int) -> torch.Tensor:
        return to_unit_range(self.rows(torch.tensor([index]))[0])


class ImageFiles(Dataset):
    """A list of image files decoded on access (DCGAN-style resize + center crop)."""

    def __init__(self, paths: list[Path], *, image_size: int, channels: int):
        self.paths, self.image_size, self.channels = paths, image_size, channels
        self.as_uint8 = False  # True: items are uint8 (C, S, S) (the prepare step stores them so)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor | BadImage:
        path = self.paths[index]
        return decode_image(lambda: path, str(path), self.image_size, self.channels, as_uint8=self.as_uint8)


class FloatImages(Dataset):
    """Images held in memory as float (N, C, H, W) in [-1, 1] (a user's dataset); items (C, H, W)."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


_LMDB_HANDLES: dict[str, object] = {}


def open_lmdb(path: Path):
    """A read-only, lock-free LMDB handle, one per path: lmdb refuses to open a path twice in a process,
    and forked DataLoader workers inherit it (read-only without locks, as torchvision's LSUN does)."""
    import lmdb  # optional dependency: pip install lmdb

    key = str(Path(path).resolve())
    if key not in _LMDB_HANDLES:
        _LMDB_HANDLES[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    return _LMDB_HANDLES[key]


class LMDBImages(Dataset):
    """LSUN's LMDB release: keys are image ids, values encoded images (webp/jpeg). Opened read-only."""

    def __init__(self, path: Path, *, image_size: int, channels: int, max_images: int | None):
        self.path, self.image_size, self.channels = path, image_size, channels
        self.as_uint8 = False  # True: items are uint8 (C, S, S) (the prepare step stores them so)
        with open_lmdb(path).begin(write=False) as txn:
            keys = []
            for key in txn.cursor().iternext(keys=True, values=False):
                keys.append(bytes(key))
                if max_images is not None and len(keys) >= max_images:
                    break
        self.keys = keys

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> torch.Tensor | BadImage:
        with open_lmdb(self.path).begin(write=False) as txn:
            encoded = txn.get(self.keys[index])
        source = f"{self.path} record {self.keys[index].decode(errors='replace')}"
        if encoded is None:
            return BadImage(source, "missing record")
        return decode_image(
            lambda: io.BytesIO(encoded), source, self.image_size, self.channels, as_uint8=self.as_uint8
        )


# ----------------------------------------------------------------------------- readers
def load_digits_uint8() -> torch.Tensor:
    """scikit-learn's bundled digits as uint8 (1797, 1, 8, 8); gray levels 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits

    images = load_digits().images  # (1797, 8, 8), float in [0, 16]
    return torch.from_numpy(np.round(images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)


def bundled_source() -> dict[str, str]:
    """What identifies the bundled images besides their settings: the scikit-learn version that ships them
    and the Pillow version that resizes the photographs' crops."""
    import PIL
    import sklearn

    return {
        "bundled_with": f"scikit-learn {sklearn.__version__}",
        "resized_with": f"Pillow {PIL.__version__}",
    }


def cut_photo_crops(
    count: int, *, size: int, min_side: int = 48, max_side: int = 160, seed: int = 0, channels: int = 3
) -> np.ndarray:
    """count random squares (side min_side..max_side) of scikit-learn's china.jpg and flower.jpg, alternating,
    each resized to size x size (bicubic); uint8 (count, size, size, channels)."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # [china, flower], two (427, 640, 3) uint8 arrays
    rng = np.random.default_rng(seed)  # where the crops are cut: the same seed, the same pixels
    crops = np.empty((count, size, size, channels), dtype=np.uint8)
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(rng.integers(min_side, max_side + 1))  # three draws per crop, in this order
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        crop = crop.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BICUBIC)
        crops[index] = np.asarray(crop).reshape(size, size, channels)
    return crops


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or raw: big-endian header, then the array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:  # a torn or foreign .gz
        raise DatasetError("dataset.root", f"cannot read {path}: {error}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError("dataset.root", f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DatasetError("dataset.root", f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) < 4 + 4 * ndim:
        raise DatasetError("dataset.root", f"{path} is truncated inside its header")
    if 0 in shape:
        raise DatasetError("dataset.root", f"{path} holds no data (shape {shape})")
    body = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DatasetError(
            "dataset.root", f"{path} is truncated: header says {shape}, found {body.size} values"
        )
    return body.reshape(shape)


def find_idx_images(root: Path, split: str, subfolder: str) -> Path:
    """Locate {split}-images-idx3-ubyte[.gz] in root, root/raw or root/<subfolder>/raw."""
    name = f"{split}-images-idx3-ubyte"
    for folder in (root, root / "raw", root / subfolder / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DatasetError(
        "dataset.root",
        f"no {name}[.gz] under {root} (nor raw/ or {subfolder}/raw/); "
        "put the IDX files there, or add dataset.download=true",
    )


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10's python batches only: numpy arrays, dicts, lists, bytes; nothing callable."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an untrusted pickle")
        return super().find_class(module, name)


def read_cifar_python_batch(path: Path) -> np.ndarray:
    """One python-release CIFAR batch -> uint8 (N, 3, 32, 32), via the restricted unpickler."""
    with open(path, "rb") as handle:
        try:
            batch = RestrictedUnpickler(handle, encoding="bytes").load()
        except Exception as error:  # untrusted bytes: any failure to unpickle is a bad file, never a crash
            reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
            raise DatasetError("dataset.root", f"{path} is not a valid CIFAR-10 batch: {reason}") from None
    data = batch.get(b"data", batch.get("data")) if isinstance(batch, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError("dataset.root", f"{path} has no uint8 'data' array of shape (N, 3072)")
    return data.reshape(-1, 3, 32, 32)


def read_cifar_binary_batch(path: Path) -> np.ndarray:
    """One binary-release CIFAR batch (records of 1 label byte + 3072 pixel bytes) -> uint8 (N, 3, 32, 32)."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise DatasetError(
            "dataset.root",
            f"{path} is not a CIFAR-10 binary batch (size {raw.size} is not a multiple of 3073)",
        )
    return raw.reshape(-1, 3073)[:, 1:].reshape(-1, 3, 32, 32)


def load_cifar10_uint8(root: Path, split: str) -> torch.Tensor:
    """CIFAR-10 from the binary release if present, else the python release; uint8 (N, 3, 32, 32)."""
    binary_names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    python_names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    for folder in (root / "cifar-10-batches-bin", root):
        paths = [folder / name for name in binary_names if (folder / name).is_file()]
        if paths:
            return torch.from_numpy(np.concatenate([read_cifar_binary_batch(p) for p in paths]))
    for folder in (root / "cifar-10-batches-py", root):
        paths = [folder / name for name in python_names if (folder / name).is_file()]
        if paths:
            return torch.from_numpy(np.concatenate([read_cifar_python_batch(p) for p in paths]))
    raise DatasetError(
        "dataset.root",
        f"no CIFAR-10 {split} batches under {root}; put cifar-10-batches-bin/ "
        "or cifar-10-batches-py/ there, or add dataset.download=true",
    )


def list_images(root: Path, max_images: int | None) -> list[Path]:
    """All image files under root, recursively, sorted (so that max_images is reproducible)."""
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise DatasetError("dataset.root", f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return paths[:max_images] if max_images else paths


def find_lsun_lmdb(root: Path, category: str, split: str) -> Path:
    """root/{category}_{split}_lmdb, or root itself when it is an LMDB folder."""
    for candidate in (root / f"{category}_{split}_lmdb", root):
        if (candidate / "data.mdb").is_file():
            return candidate
    raise DatasetError(
        "dataset.root",
        f"no LMDB ({category}_{split}_lmdb/data.mdb) under {root}; put LSUN's LMDB folder there",
    )


# ----------------------------------------------------------------------------- entry points
FILE_DATASETS = (
    "celeba",
    "image_folder",
    "lsun",
)  # decoded image by image; the prepare step decodes them once


def read_dataset(cfg: DictConfig) -> Dataset:
    """The images of the dataset cfg names (a node checked by config.check_dataset), by format."""
    size, channels = int(cfg.image_size), int(cfg.channels)
    if is_user_dataset(cfg):
        return user_images(cfg.images, size, channels)
    if cfg.name == "digits":
        return TensorImages(resize_uint8(load_digits_uint8(), size))
    if cfg.name == "photos":
        crops = cut_photo_crops(
            int(cfg.count),
            size=size,
            min_side=int(cfg.min_side),
            max_side=int(cfg.max_side),
            seed=int(cfg.crop_seed),
            channels=channels,
        )  # (N, S, S, C)
        return TensorImages(torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous())
    root = Path(str(cfg.root)).expanduser()
    if cfg.name in ("mnist", "fashion_mnist"):
        subfolder = "MNIST" if cfg.name == "mnist" else "FashionMNIST"
        images = read_idx(find_idx_images(root, cfg.split, subfolder))
        if images.ndim != 3:
            raise DatasetError("dataset.root", f"expected an (N, H, W) image file, got shape {images.shape}")
        return TensorImages(resize_uint8(torch.from_numpy(images.astype(np.uint8)).unsqueeze(1), size))
    if cfg.name == "cifar10":
        return TensorImages(resize_uint8(load_cifar10_uint8(root, cfg.split), size))
    if cfg.name in ("celeba", "image_folder"):
        folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
        return ImageFiles(list_images(folder, cfg.get("max_images")), image_size=size, channels=channels)
    if cfg.name == "lsun":
        path = find_lsun_lmdb(root, cfg.category, cfg.split)
        return LMDBImages(path, image_size=size, channels=channels, max_images=cfg.get("max_images"))
    raise AssertionError(cfg.name)


def user_images(node: DictConfig, size: int, channels: int) -> Dataset:
    """A user's images (dataset.images._target_, called with image_size and channels): a uint8 tensor
    (N, C, S, S) in [0, 255] (held and batched as the built-in small datasets), a float tensor (N, C, S, S)
    in [-1, 1], or a torch Dataset whose items are float (C, S, S) in [-1, 1]. Checked here, before any
    training: a wrong shape, type or range is a ConfigError naming dataset.images."""
    images = instantiate("dataset.images", node, image_size=size, channels=channels)
    expected = (channels, size, size)
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or tuple(images.shape[1:]) != expected or images.shape[0] == 0:
            problem = f"a tensor of shape {tuple(images.shape)}"
        elif images.dtype == torch.uint8:
            return TensorImages(images.cpu().contiguous())
        elif not images.is_floating_point():
            problem = f"a {images.dtype} tensor"
        elif not bool(torch.isfinite(images).all()) or images.min() < -1 or images.max() > 1:
            problem = f"float values in [{images.min().item():g}, {images.max().item():g}]"
        else:
            return FloatImages(images.detach().cpu().float().contiguous())
    elif isinstance(images, Dataset) and hasattr(images, "__len__"):
        first = images[0] if len(images) > 0 else None
        if isinstance(first, torch.Tensor) and tuple(first.shape) == expected and first.is_floating_point():
            return images
        problem = "an empty Dataset" if first is None else f"a Dataset whose item 0 is {describe_item(first)}"
    else:
        problem = f"a {type(images).__name__}"
    raise ConfigError(
        "dataset.images",
        f"{node['_target_']} returned {problem}; it must return uint8 images (N, {channels}, {size}, {size}) "
        f"in [0, 255], float ones in [-1, 1], or a Dataset of float (C, S, S) items in [-1, 1] "
        "(C = dataset.channels, S = dataset.image_size)",
    )


def describe_item(item: object) -> str:
    """A dataset item as an error names it: a tensor's dtype and shape, else its type."""
    if isinstance(item, torch.Tensor):
        return f"a {item.dtype} tensor of shape {tuple(item.shape)}"
    return f"a {type(item).__name__}"


def place_dataset(dataset: Dataset, device: torch.device, mode: str | bool) -> Dataset:
    """With mode auto, an in-memory dataset moves to the GPU when it fits in a quarter of the free memory,
    so batches are indexed there (no host-to-device copy per batch); otherwise it stays as it is."""
    if mode is False or device.type != "cuda" or not isinstance(dataset, TensorImages):
        return dataset
    free_bytes, _ = torch.cuda.mem_get_info(device)
    if dataset.images.numel() > free_bytes // 4:
        log.info(
            "data: %.1f GB does not fit in a quarter of the GPU's free memory; batches come from the host",
            dataset.images.numel() / 1e9,
        )
        return dataset
    log.info("data: %.2f GB of uint8 images placed on %s", dataset.images.numel() / 1e9, device)
    indices = None if dataset.indices is None else dataset.indices.to(device)
    return TensorImages(dataset.images.to(device), indices)


def sample_images(dataset: Dataset, count: int, *, rng: torch.Generator) -> torch.Tensor:
    """count distinct images drawn at random, float (count, C, H, W) in [-1, 1] on the CPU."""
    indices = torch.randperm(len(dataset), generator=rng)[:count]
    if isinstance(dataset, TensorImages):
        return to_unit_range(dataset.rows(indices)).cpu()
    images = [dataset[int(i)] for i in indices]
    return torch.stack(
        [image for image in images if isinstance(image, torch.Tensor)]
    )  # unreadable ones left out


def batches_per_epoch(dataset: Dataset, batch_size: int) -> int:
    """Full batches in one epoch (the last partial batch is dropped, as in DCGAN)."""
    return len(dataset) // batch_size


class BadImagePolicy:
    """What to do with images that cannot be decoded: `stop` the run, or `skip` them and count."""

    def __init__(self, mode: str | None = "stop"):
        self.mode = (
            "skip" if mode == "skip" else "stop"
        )  # dataset.bad_images (config.py checks it); absent = stop
        self.skipped = 0

    def handle(self, bad: list[BadImage]) -> None:
        """Raise on the first bad image (stop), or count them (skip)."""
        if bad and self.mode == "stop":
            raise DatasetError(
                "dataset.bad_images",
                f"cannot use {bad[0].source}: {bad[0].reason}; remove the file, "
                "or set dataset.bad_images=skip to skip such images",
            )
        self.skipped += len(bad)


def epoch_order(dataset: Dataset, rng: torch.Generator) -> torch.Tensor:
    """This epoch's shuffled order of indices (draws from `rng`, so resuming can redraw it)."""
    return torch.randperm(len(dataset), generator=rng)


def iterate_epoch(
    dataset: Dataset,
    order: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    start_batch: int = 0,
    num_workers: int = 0,
    bad_images: BadImagePolicy | None = None,
) -> Iterator[torch.Tensor]:
    """The full batches of one epoch in `order`, from batch `start_batch` on: float (B, C, H, W), [-1, 1]."""
    stop = batches_per_epoch(dataset, batch_size) * batch_size
    order = order[start_batch * batch_size : stop]
    if isinstance(dataset, TensorImages):  # index the uint8 array where it lives (the GPU, if placed there)
        order = order.to(dataset.images.device)
        for start in range(0, len(order), batch_size):
            yield to_unit_range(dataset.rows(order[start : start + batch_size])).to(device, non_blocking=True)
        return
    policy = bad_images or BadImagePolicy("stop")
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=order.tolist(),
        drop_last=True,
        num_workers=num_workers,
        collate_fn=collate_images,
        pin_memory=device.type == "cuda",
    )
    for batch, bad in loader:
        policy.handle(bad)
        if batch is not None:
            yield batch.to(device, non_blocking=True)


def infinite_batches(
    dataset: Dataset,
    *,
    batch_size: int,
    rng: torch.Generator,
    device: torch.device,
    num_workers: int = 0,
    bad_images: BadImagePolicy | None = None,
) -> Iterator[torch.Tensor]:
    """Shuffled batches forever, epoch after epoch (the probe counts iterations, not epochs)."""
    while True:
        yield from iterate_epoch(
            dataset,
            epoch_order(dataset, rng),
            batch_size=batch_size,
            device=device,
            num_workers=num_workers,
            bad_images=bad_images,
        )


# ----------------------------------------------------------------------------- splits
def heldout_count(size: int, fraction: float, minimum: int) -> int:
    """Held-out images: at least `fraction` of the dataset, and at least `minimum` where the dataset allows
    (the minimum never takes more than a quarter of it)."""
    return max(math.ceil(fraction * size), min(minimum, size // 4))


def subset(dataset: Dataset, positions: torch.Tensor) -> Dataset:
    """The images of dataset at these positions: a view for in-memory images, a Subset otherwise."""
    if isinstance(dataset, TensorImages):
        rows = positions if dataset.indices is None else dataset.indices[positions.to(dataset.indices.device)]
        return TensorImages(dataset.images, rows.to(dataset.images.device))
    return Subset(dataset, positions.tolist())


def split_off(dataset: Dataset, count: int, seed: int) -> tuple[Dataset, Dataset]:
    """(the rest, `count` images drawn at random): a seeded split, each part in the dataset's order."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return subset(dataset, order[count:].sort().values), subset(dataset, order[:count].sort().values)


@dataclass
class DataSplits:
    """The dataset split once per run: `train` feeds training and the probe's D steps; `heldout` is never
    in either, and tells whether D separates real from fake or merely memorized its training images."""

    train: Dataset
    heldout: Dataset
    seed: int  # the split's seed (dataset.heldout_seed), not the run's

    @functools.cached_property
    def control_pools(self) -> tuple[Dataset, Dataset]:
        """The negative control's two disjoint halves of `train`: D's real images, and its "fakes"."""
        return split_off(self.train, len(self.train) // 2, self.seed + 1)

    @functools.cached_property
    def heldout_halves(self) -> tuple[Dataset, Dataset]:
        """Held-out images in two halves, labelled real and fake when the control is evaluated."""
        return split_off(self.heldout, len(self.heldout) // 2, self.seed + 2)


def split_dataset(dataset: Dataset, *, fraction: float, minimum: int, seed: int) -> DataSplits:
    """The run's fixed split (dataset.heldout_fraction, heldout_minimum, heldout_seed)."""
    count = heldout_count(len(dataset), fraction, minimum)
    train, heldout = split_off(dataset, count, seed)
    log.info(
        "data: %d training images, %d held out (never in training or in a D step)", len(train), len(heldout)
    )
    return DataSplits(train, heldout, seed)
