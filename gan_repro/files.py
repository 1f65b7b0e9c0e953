"""Writing artifacts safely: write to a temporary name in the same folder, then rename into place."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch and PIL are imported where used, so plotting and reports stay light
    import pandas as pd
    import torch

import numpy as np


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call write(handle) on a temporary file next to path, fsync, then rename it onto path.

    The file gets the mode a plain open() would give (0666 less the umask), not the temporary file's 0600,
    so co-authors and a shared cache_dir can read it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        )
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
    try:
        os.fchmod(handle.fileno(), 0o666 & ~current_umask())
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except OSError as error:  # a full disk, a read-only place: name the file meant, not the temporary one
        Path(handle.name).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Atomically write a DataFrame as CSV (no index), LF line endings as every CSV here."""
    return atomic_write(path, lambda handle: handle.write(frame.to_csv(index=False).encode()))


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the block; other processes wait for it. The
    operating system releases it if the holder dies (filelock: flock on POSIX, LockFileEx on Windows)."""
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        yield


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(paths: list[Path], *, root: Path, store: Path | None = None) -> dict[str, Any]:
    """What the files hold: their count, bytes and one SHA-256 over each file's name (relative to root) and
    content hash. Each file's hash is remembered in `store` (a JSON file) by path, size, mtime, ctime and
    inode, so a rerun hashes only files that changed; a file rewritten with the same size and an old mtime
    still gets a new ctime, so it is hashed again."""
    known: dict[str, list] = {}
    if store is not None:
        try:
            known = json.loads(Path(store).read_text())
        except (OSError, ValueError):
            known = {}
    digest, total, changed = hashlib.sha256(), 0, False
    for path in paths:
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        key = str(Path(path).absolute())
        entry = known.get(key)
        if isinstance(entry, list) and entry[:4] == signature:
            file_hash = entry[4]
        else:
            file_hash = sha256_file(path)
            known[key], changed = [*signature, file_hash], True
        total += stat.st_size
        digest.update(f"{Path(path).relative_to(root)}\0{file_hash}\n".encode())
    if changed and store is not None:
        try:
            write_json(store, known)
        except OSError:  # a read-only or full cache: the hashes are computed again next time
            pass
    return {"files": len(paths), "bytes": total, "sha256": digest.hexdigest()}


def write_json(path: Path, data: Any) -> Path:
    """Atomically write data as indented JSON."""
    return atomic_write(path, lambda handle: handle.write((json.dumps(data, indent=2) + "\n").encode()))


def save_torch(path: Path, data: Any) -> Path:
    """Atomically torch.save a dict of tensors and plain values (loadable with weights_only=True). It is
    serialized in memory first, so a full disk is an OSError naming the file, not torch's RuntimeError."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(data, buffer)
    return atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


def image_grid(images: torch.Tensor, *, columns: int = 8, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> uint8 (rows*(H+p)+p, columns*(W+p)+p, C) grid, white padding."""
    import torch

    images = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    count, channels, height, width = images.shape
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), 255, np.uint8
    )
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = images[index].permute(1, 2, 0).numpy()
    return grid


LABEL_BAND = 14  # pixels above a labelled sample grid: PIL's built-in bitmap font is about 11 pixels high


def save_image_grid(path: Path, images: torch.Tensor, *, columns: int = 8, label: str | None = None) -> Path:
    """Atomically save a PNG grid of images in [-1, 1], with `label` written in a white band (LABEL_BAND
    pixels) above it."""
    from PIL import Image, ImageDraw

    grid = image_grid(images, columns=columns)
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    if label:
        labelled = Image.new(picture.mode, (picture.width, picture.height + LABEL_BAND), "white")
        labelled.paste(picture, (0, LABEL_BAND))
        ImageDraw.Draw(labelled).text((3, 1), label, fill="black")
        picture = labelled
    return atomic_write(path, lambda handle: picture.save(handle, format="PNG"))
