"""How a snapshot of G is named: in words (its epoch and G steps), and in its files' names (its G steps), and
the negative control's snapshot number. Training, the probe and the report all name snapshots; this module
holds only that, so that training's cache key (cache.STAGE_ROOTS) does not hold the report's code."""

from __future__ import annotations

from pathlib import Path

CONTROL_SNAPSHOT = 0  # snapshot_iteration of the negative control's rows in probe.csv (experiment=control)


def snapshot_words(iteration: int, epoch: float) -> str:
    """A snapshot in words, in epochs and G steps: 'epoch 10 (900 G steps)', '1000 G steps (11.11 epochs)'
    for one inside an epoch, or the negative control's name."""
    if iteration == CONTROL_SNAPSHOT:
        return "control: real images as fakes"
    if float(epoch).is_integer():
        return f"epoch {int(epoch)} ({iteration} G steps)"
    return f"{iteration} G steps ({epoch:.2f} epochs)"


def snapshot_file(iteration: int, suffix: str) -> str:
    """The name of a snapshot's checkpoint (.pt) or sample grid (.png): its G steps."""
    return f"iteration_{iteration:06d}{suffix}"


def snapshot_of(path: Path) -> int:
    """The G steps of a file named by snapshot_file."""
    return int(Path(path).stem.split("_")[1])


def snapshot_files(folder: Path, suffix: str) -> list[Path]:
    """A folder's snapshot files (snapshot_file names), in G-step order (past 999,999 steps too)."""
    return sorted(Path(folder).glob(f"iteration_*{suffix}"), key=snapshot_of)
