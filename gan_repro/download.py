"""Optional downloads (dataset.download=true) for the datasets that publish files and checksums.

Each file is streamed to NAME.part, resumed with an HTTP Range request when a .part is there
(restarted when the server ignores the range), checked against the published MD5, and renamed
into place only then. Without network the error says which files to put where by hand. Tests
never need the network: they serve files from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from omegaconf import DictConfig

from gan_repro.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

# name -> (default base URL, {file: published MD5}); the MD5s are the datasets' own (as in torchvision).
SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        },
    ),
    "fashion_mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        },
    ),
    "cifar10": (
        "https://www.cs.toronto.edu/~kriz/",
        {  # the binary release: no pickles to trust
            "cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"
        },
    ),
}
CHUNK = 1 << 20


def md5_of(path: Path) -> str:
    """MD5 of a file, read in chunks (integrity against the published sums, not security)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, destination: Path, md5: str, *, timeout: float = 60.0) -> Path:
    """Download url to destination through destination.part, resuming it if present; verify md5."""
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".part")
    offset = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = offset > 0 and response.status == 206
            if offset and not resumed:
                log.info("download: %s ignored the range request; starting %s again", url, destination.name)
            with open(partial, "ab" if resumed else "wb") as handle:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
    except (urllib.error.URLError, OSError) as error:  # keep the .part: the next try resumes it
        raise DatasetError(
            "dataset.download",
            f"cannot fetch {url} ({getattr(error, 'reason', error)}); put "
            f"{destination.name} (md5 {md5}) in {destination.parent} by hand, or try again",
        ) from None
    got = md5_of(partial)
    if got != md5:
        partial.unlink()
        raise DatasetError(
            "dataset.download",
            f"{destination.name} from {url} has md5 {got}, not the published "
            f"{md5}; the file was removed: try again or fetch it by hand",
        )
    os.replace(partial, destination)
    return destination


def extract_cifar(archive: Path, root: Path) -> None:
    """Unpack only the regular files of cifar-10-batches-bin/ (no links, no paths outside root)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.isfile() and m.name.startswith("cifar-10-batches-bin/") and ".." not in Path(m.name).parts
        ]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12 / 3.11.4
        tar.extractall(root, members=members, **safe)


def download_dataset(dataset_cfg: DictConfig) -> None:
    """Fetch what dataset_cfg needs into dataset.root (skipping files already there and verified)."""
    if dataset_cfg.name not in SOURCES:
        raise ConfigError(
            "dataset.download",
            f"dataset={dataset_cfg.name} has no published download; "
            f"use one of {', '.join(SOURCES)}, or put the files in dataset.root by hand",
        )
    default_url, files = SOURCES[dataset_cfg.name]
    base_url = dataset_cfg.get("download_url") or default_url
    root = Path(str(dataset_cfg.root)).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    if dataset_cfg.name == "cifar10" and (root / "cifar-10-batches-bin").is_dir():
        return
    for name, md5 in files.items():
        if dataset_cfg.name != "cifar10" and not name.startswith(f"{dataset_cfg.get('split', 'train')}-"):
            continue
        target = root / name
        if target.is_file() and md5_of(target) == md5:
            continue
        log.info("download: %s%s -> %s", base_url, name, target)
        fetch(base_url + name, target, md5)
        if name.endswith(".tar.gz"):
            extract_cifar(target, root)
