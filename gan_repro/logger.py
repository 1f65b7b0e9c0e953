"""One metrics logger: a dict in, CSV rows out (same key names in code, CSV and plots).

Rows may hold device tensors; they are buffered and converted in one transfer per chunk of
`buffer_rows`, so logging every iteration does not force a host-device sync per iteration.
Each chunk is flushed to disk at once, so a reader (or a kill) never sees half a row.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import torch


def to_number(value: Any) -> Any:
    """Tensors and numpy scalars -> Python numbers; everything else unchanged."""
    if isinstance(value, torch.Tensor):
        return value.item()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def format_cell(value: Any) -> Any:
    """Floats with full precision (repr keeps 1e-300 and all 17 digits); others as they are."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return value


def rows_to_numbers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Convert buffered rows to Python numbers with one device-to-host copy for all their tensors."""
    tensors = [
        (i, key, value)
        for i, row in enumerate(rows)
        for key, value in row.items()
        if isinstance(value, torch.Tensor) and value.device.type != "cpu"
    ]
    converted = [dict(row) for row in rows]
    if tensors:
        host = torch.stack([value.detach().double().reshape(()) for _, _, value in tensors]).cpu().tolist()
        for (i, key, _), number in zip(tensors, host, strict=True):
            converted[i][key] = number
    return [{key: to_number(value) for key, value in row.items()} for row in converted]


class CSVLogger:
    """Appends rows to a CSV file: `log` buffers one, and every `buffer_rows` rows (and on `flush`) they
    are written and flushed together."""

    def __init__(self, path: Path, fieldnames: list[str], *, buffer_rows: int = 1):
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        self.buffer_rows = max(1, int(buffer_rows))
        self.pending: list[dict[str, Any]] = []
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        self.handle = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(  # LF, as the rows keep_rows rewrites on resume (csv's default is CRLF)
            self.handle, fieldnames=self.fieldnames, lineterminator="\n"
        )
        if is_new:
            self.writer.writeheader()
            self.handle.flush()

    def log(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        """Buffer one row (keys must be the logger's fieldnames); returns the rows written now, as numbers."""
        unknown = set(metrics) - set(self.fieldnames)
        if unknown:
            raise KeyError(f"{self.path.name}: unknown columns {sorted(unknown)}")
        self.pending.append(dict(metrics))
        return self.flush() if len(self.pending) >= self.buffer_rows else []

    def flush(self) -> list[dict[str, Any]]:
        """Write every buffered row and flush the file; returns those rows as Python numbers."""
        rows = rows_to_numbers(self.pending)
        self.pending = []
        try:
            for row in rows:
                self.writer.writerow({key: format_cell(value) for key, value in row.items()})
            if rows:
                self.handle.flush()
        except OSError as error:  # a full disk: name the CSV (a torn last row is dropped on resume)
            raise OSError(error.errno, error.strerror or str(error), str(self.path)) from None
        return rows

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self.handle.close()
            except OSError:  # the flush already failed on a full disk
                pass

    def __enter__(self) -> CSVLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
