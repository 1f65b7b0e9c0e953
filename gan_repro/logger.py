"""One metrics logger: a dict in, a flushed CSV row out (same key names in code, CSV and plots)."""
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


class CSVLogger:
    """Appends one row per `log` call to a CSV file and flushes it, so a reader (or a kill) never sees half a row."""

    def __init__(self, path: Path, fieldnames: list[str]):
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        self.handle = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=self.fieldnames)
        if is_new:
            self.writer.writeheader()
            self.handle.flush()

    def log(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Write one row (keys must be the logger's fieldnames) and return it as Python numbers."""
        unknown = set(metrics) - set(self.fieldnames)
        if unknown:
            raise KeyError(f"{self.path.name}: unknown columns {sorted(unknown)}")
        row = {key: to_number(value) for key, value in metrics.items()}
        self.writer.writerow({key: format_cell(value) for key, value in row.items()})
        self.handle.flush()
        return row

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "CSVLogger":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
