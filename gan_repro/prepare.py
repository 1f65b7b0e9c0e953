"""The prepare step: decode a file dataset (image folders, CelebA, LSUN) once into a uint8 array; cut the
bundled photographs' crops (dataset=photos) once the same way.

The images are resized and center-cropped as in training and stored as one raw (N, C, S, S) uint8
file, read back through np.memmap, so later epochs and runs index an array instead of decoding JPEG
or WebP again. Next to it, manifest.json names the source, the transform and the count. The folder's
name is a hash of everything that determines the contents (dataset, root, category, split, image
size, channels, max_images, the transform's version and a fingerprint of the source files), so a
changed source or setting gets a new array and an old one is never used by mistake; for the photos,
a hash of the crop settings, the size, the channels and the scikit-learn and Pillow versions. Concurrent
jobs take a lock: one decodes, the others wait and reuse. `gan-repro-prepare [KEY=VALUE ...]` runs it alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from gan_repro.data import (
    FILE_DATASETS,
    PHOTO_KEYS,
    BadImagePolicy,
    ImageFiles,
    LMDBImages,
    TensorImages,
    bundled_source,
    collate_images,
    find_lsun_lmdb,
    list_images,
    read_dataset,
)
from gan_repro.errors import ConfigError, DatasetError
from gan_repro.files import content_digest, file_lock, write_json

log = logging.getLogger(__name__)

TRANSFORM = "shorter side resized to image_size (bicubic), center crop, converted to L or RGB; uint8"
PHOTO_TRANSFORM = (
    "random squares (min_side..max_side, default_rng(crop_seed)) of china.jpg and flower.jpg, alternating, "
    "converted to L or RGB, resized to image_size (bicubic); uint8"
)
TRANSFORM_VERSION = 1  # bump when the decoding or the transform changes: every prepared array is redone
FORMAT = "gan-repro prepared images"
PREPARED_DATASETS = (*FILE_DATASETS, "photos")  # those with dataset.prepare: decoded (or cut) once, reused


def hash_store(cfg: DictConfig) -> Path | None:
    """Where the source files' content hashes are remembered: next to the prepared arrays' folder."""
    prepared_root = cfg.get("prepared_root")
    return Path(str(prepared_root)).expanduser().parent / "file-hashes.json" if prepared_root else None


def source_fingerprint(cfg: DictConfig, store: Path | None = None) -> dict[str, Any]:
    """What identifies the source files' contents: their count, bytes and SHA-256 (each file's hash
    remembered by path, size, mtime and ctime in `store`, default hash_store(cfg), so reruns are cheap)."""
    root = Path(str(cfg.root)).expanduser()
    store = store or hash_store(cfg)
    if cfg.name == "lsun":
        data = find_lsun_lmdb(root, cfg.category, cfg.split) / "data.mdb"
        return content_digest([data], root=root, store=store)
    folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
    return content_digest(list_images(folder, cfg.get("max_images")), root=root, store=store)


def identity(cfg: DictConfig) -> dict[str, Any]:
    """Everything the prepared array's contents depend on."""
    common = {
        "format": FORMAT,
        "transform_version": TRANSFORM_VERSION,
        "dataset": cfg.name,
        "image_size": int(cfg.image_size),
        "channels": int(cfg.channels),
    }
    if cfg.name == "photos":  # no files: the crop settings and the versions that cut and resize them
        return {**common, **{key: int(cfg[key]) for key in PHOTO_KEYS}, "source": bundled_source()}
    return {
        **common,
        "root": str(Path(str(cfg.root)).expanduser().resolve()),
        "category": cfg.get("category"),
        "split": cfg.get("split"),
        "max_images": cfg.get("max_images"),
        "source": source_fingerprint(cfg),
    }


def prepared_folder(cfg: DictConfig, inputs: dict[str, Any] | None = None) -> Path:
    """<dataset.prepared_root>/<dataset>-<size>px-<hash of the identity> (inputs: identity(cfg))."""
    key = hashlib.sha256(json.dumps(inputs or identity(cfg), sort_keys=True).encode()).hexdigest()[:16]
    root = Path(str(cfg.prepared_root)).expanduser()
    return root / f"{cfg.name}-{int(cfg.image_size)}px-{key}"


def open_prepared(folder: Path) -> TensorImages | None:
    """The prepared images in folder as a memory-mapped uint8 tensor, or None if absent or incomplete."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        shape = tuple(int(n) for n in manifest["shape"])
        if manifest.get("format") != FORMAT or (folder / "images.u8").stat().st_size != int(np.prod(shape)):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    images = np.memmap(
        folder / "images.u8", dtype=np.uint8, mode="c", shape=shape
    )  # copy-on-write: never changes the file
    return TensorImages(torch.from_numpy(images))


def decode_into(
    dataset: ImageFiles | LMDBImages, path: Path, *, num_workers: int, policy: BadImagePolicy
) -> int:
    """Decode every image of dataset, in order, into a raw uint8 file at path; returns how many were kept."""
    dataset.as_uint8 = True
    shape = (len(dataset), dataset.channels, dataset.image_size, dataset.image_size)
    output = np.memmap(path, dtype=np.uint8, mode="w+", shape=shape)
    loader = DataLoader(  # its own generator: a DataLoader with workers otherwise draws its base seed from
        dataset,  # the global torch RNG, and a run that prepares would then train differently from one that
        batch_size=256,  # reuses the prepared array
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_images,
        generator=torch.Generator().manual_seed(0),
    )
    kept, started, reported = 0, time.perf_counter(), 0
    for batch, bad in loader:
        policy.handle(bad)
        if batch is not None:
            output[kept : kept + len(batch)] = batch.numpy()
            kept += len(batch)
        if kept - reported >= 50_000:
            log.info(
                "prepare: %d of %d images decoded (%.0f images/s)",
                kept,
                len(dataset),
                kept / (time.perf_counter() - started),
            )
            reported = kept
    output.flush()
    del output
    os.truncate(path, kept * int(np.prod(shape[1:])))  # skipped images leave no gap
    return kept


def write_array(images: torch.Tensor, path: Path) -> int:
    """An in-memory uint8 array (N, C, S, S) into a raw file at path, row after row; returns N."""
    images.contiguous().numpy().tofile(path)
    return images.shape[0]


def prepare(cfg: DictConfig, *, num_workers: int = 2) -> Path:
    """Decode the file dataset (or cut the photos) cfg names into its prepared folder unless complete there;
    returns it. A ConfigError for a dataset that has no prepare step."""
    if cfg.name not in PREPARED_DATASETS:
        raise ConfigError(
            "dataset",
            f"{cfg.name} is already held in memory as uint8; prepare is for {', '.join(PREPARED_DATASETS)}",
        )
    inputs = identity(cfg)  # stats every source file once
    folder = prepared_folder(cfg, inputs)
    with file_lock(folder.parent / f".{folder.name}.lock"):  # one job decodes; the others wait, then reuse
        if open_prepared(folder) is not None:
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        dataset = read_dataset(cfg)  # the photos: cut here, in memory (a few seconds)
        policy = BadImagePolicy(cfg.get("bad_images", "stop"))
        log.info(
            "prepare: %d %s images at %dx%d into %s (once)",
            len(dataset),
            cfg.name,
            cfg.image_size,
            cfg.image_size,
            folder,
        )
        partial = folder / "images.u8.part"
        try:
            if isinstance(dataset, TensorImages):  # built in memory (the photos): stored as it is
                kept = write_array(dataset.images, partial)
            else:
                kept = decode_into(dataset, partial, num_workers=num_workers, policy=policy)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if kept == 0:
            partial.unlink(missing_ok=True)
            raise DatasetError(
                "dataset.root", f"{cfg.root}: none of the {len(dataset)} images could be decoded"
            )
        os.replace(partial, folder / "images.u8")
        seconds = time.perf_counter() - started
        write_json(
            folder / "manifest.json",
            {  # written last: its presence marks the array complete
                **inputs,
                "transform": PHOTO_TRANSFORM if cfg.name == "photos" else TRANSFORM,
                "shape": [kept, int(cfg.channels), int(cfg.image_size), int(cfg.image_size)],
                "dtype": "uint8",
                "count": kept,
                "skipped": policy.skipped,
                "seconds": round(seconds, 1),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        log.info("prepare: %d images in %.1f s; %s", kept, seconds, folder)
        if policy.skipped:
            log.warning("prepare: skipped %d unreadable images (dataset.bad_images=skip)", policy.skipped)
    return folder


def prepared_dataset(cfg: DictConfig, *, num_workers: int = 2) -> TensorImages:
    """The file dataset cfg names, from its prepared array (made now if needed). Preparing never touches the
    global torch RNG: the run that prepares and the run that reuses train alike."""
    rng_state = torch.get_rng_state()
    try:
        folder = prepare(cfg, num_workers=num_workers)
    finally:
        torch.set_rng_state(rng_state)
    dataset = open_prepared(folder)
    if dataset is None:  # removed between the two calls
        raise DatasetError("dataset.prepared_root", f"{folder} vanished while in use; rerun")
    log.info("data: prepared %s (%d images) from %s", cfg.name, len(dataset), folder)
    return dataset


def warn_small_images(cfg: DictConfig, *, sample: int = 200) -> None:
    """One warning line when source images (up to `sample` of them, evenly spread) are smaller than
    dataset.image_size: they are upscaled, which invents no detail (a 1x1 image becomes a flat square)."""
    from PIL import Image

    root = Path(str(cfg.root)).expanduser()
    folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
    paths = list_images(folder, cfg.get("max_images"))
    picked = paths[:: max(1, len(paths) // sample)][:sample]
    small = []
    for path in picked:
        try:
            with Image.open(path) as image:
                if min(image.size) < int(cfg.image_size):
                    small.append((min(image.size), image.size, path))
        except Exception:  # unreadable images follow dataset.bad_images when decoded
            continue
    if small:
        _, size, path = min(small, key=lambda item: item[0])
        log.warning(
            "data: %d of %d images checked are smaller than dataset.image_size=%d and are upscaled "
            "(smallest %dx%d: %s)",
            len(small), len(picked), int(cfg.image_size), size[0], size[1], path,
        )  # fmt: skip


def build_dataset(cfg: DictConfig) -> Dataset:
    """The dataset a run uses, from its `dataset` node (checked by config.check_dataset): images in [-1, 1]
    at cfg.image_size. File datasets and the photos with dataset.prepare=true come from their prepared uint8
    array."""
    if cfg.name in ("image_folder", "celeba"):
        warn_small_images(cfg)
    if cfg.name in PREPARED_DATASETS and cfg.get("prepare"):
        return prepared_dataset(cfg)
    dataset = read_dataset(cfg)
    if len(dataset) == 0:
        raise DatasetError("dataset.root", f"{cfg.get('root')} holds no {cfg.name} images")
    return dataset
