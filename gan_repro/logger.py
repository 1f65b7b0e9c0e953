"""One metrics logger: a dict in, CSV rows out (same key names in code, CSV and plots).

Rows may hold device tensors; they are buffered and converted in one transfer per chunk of
`buffer_rows`, so logging every iteration does not force a host-device sync per iteration.
Each chunk is flushed to disk at once, so a reader (or a kill) never sees half a row.

With logger=tensorboard each chunk is also mirrored to TensorBoard (TensorBoardMirror), after the CSV has
it: the CSVs stay the source of truth, and are the same bytes with or without the mirror.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # tensorboard is an optional extra, imported only when logger=tensorboard
    from torch.utils.tensorboard import SummaryWriter

LOGGERS = ("csv", "tensorboard")  # logger=: the CSVs alone, or each CSV row also as TensorBoard scalars
TENSORBOARD_FOLDER = "tensorboard"  # in a run folder: the mirror's event files (logger=tensorboard)
TENSORBOARD_LAYOUT = {  # a mirrored table -> (its TensorBoard step, the columns that tell its curves apart)
    "train": ("iteration", ()),  # G steps
    "snapshots": ("iteration", ()),  # the snapshot's G steps
    "probe": ("iteration", ("critic", "snapshot_iteration", "sweep_noise_std")),  # one fresh D per curve
    "updates": ("k", ("snapshot_iteration", "d_stage", "cost")),  # G steps against one frozen D per curve
}


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


def is_finite_number(value: Any) -> bool:
    """An int or a finite float (not a bool, not a blank cell's None or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def curve_folder(table: str, row: dict[str, Any], series: tuple[str, ...]) -> str:
    """The event folder of a row's curve, relative to the mirror's: '.' for a table of one curve, else the
    table and each telling column's value ('probe/critic=gan/snapshot_iteration=24'); blank cells left out."""
    if not series:
        return "."
    present = [column for column in series if row.get(column) is not None and row[column] == row[column]]
    return "/".join([table, *(f"{column}={format_cell(row[column])}" for column in present)])  # NaN != NaN


class TensorBoardMirror:
    """CSV rows as TensorBoard scalars under `folder` (logger=tensorboard): the tag '<table>/<column>' for
    each number of a row, at step = the row's step column (TENSORBOARD_LAYOUT; iteration unless it says
    otherwise); each curve in its own event folder, so TensorBoard draws a table's curves in one chart."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.writers: dict[str, SummaryWriter] = {}

    def writer(self, curve: str) -> SummaryWriter:
        """The (opened once) writer of one curve's event folder."""
        if curve not in self.writers:
            from torch.utils.tensorboard import SummaryWriter

            self.writers[curve] = SummaryWriter(log_dir=str(self.folder / curve))
        return self.writers[curve]

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Mirror rows just written to <table>.csv, then flush their event files (a live view sees them)."""
        step_column, series = TENSORBOARD_LAYOUT.get(table, ("iteration", ()))
        written = set()
        for row in rows:
            row = {column: to_number(value) for column, value in row.items()}
            curve = curve_folder(table, row, series)
            writer, step = self.writer(curve), int(row[step_column])
            for column, value in row.items():
                if column != step_column and column not in series and is_finite_number(value):
                    writer.add_scalar(f"{table}/{column}", value, step)
            written.add(curve)
        for curve in written:
            self.writers[curve].flush()

    def close(self) -> None:
        """Flush and close every event file."""
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class CSVLogger:
    """Appends rows to a CSV file: `log` buffers one, and every `buffer_rows` rows (and on `flush`) they
    are written and flushed together (and then given to `mirror`, when there is one)."""

    def __init__(
        self,
        path: Path,
        fieldnames: list[str],
        *,
        buffer_rows: int = 1,
        mirror: TensorBoardMirror | None = None,
    ):
        self.path = Path(path)
        self.mirror = mirror
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
        if rows and self.mirror is not None:  # after the CSV has them: the CSV stays the source of truth
            self.mirror.write(self.path.stem, rows)
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
