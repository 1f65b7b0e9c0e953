"""`python -m tests.paused_cli ARGS`: gan-repro's command that pauses once, mid-run, where a test asks, so
that the test's kill or signal lands there however loaded the machine is (no race between the run and the
test's polling of its CSVs).

With PAUSE_CSV=train.csv PAUSE_ROWS=45 PAUSE_MARKER=/path in the environment, the flush that brings the run's
train.csv to 45 rows or more is followed by a pause: the run writes its pid to PAUSE_MARKER, then waits
until the test removes that file (having killed the run, or signalled it first)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan_repro.cli import main
from gan_repro.logger import CSVLogger


def rows(path: Path) -> int:
    """Data rows in a CSV file."""
    with open(path) as handle:
        return sum(1 for _ in handle) - 1


def pausing(
    flush: Callable[[CSVLogger], list[dict[str, Any]]],
) -> Callable[[CSVLogger], list[dict[str, Any]]]:
    """CSVLogger.flush, then once the pause the environment asks for."""
    name, count = os.environ["PAUSE_CSV"], int(os.environ["PAUSE_ROWS"])
    marker = Path(os.environ["PAUSE_MARKER"])
    paused: list[bool] = []

    def flush_then_pause(logger: CSVLogger) -> list[dict[str, Any]]:
        written = flush(logger)
        if logger.path.name == name and not paused and rows(logger.path) >= count:
            paused.append(True)
            test = os.getppid()
            marker.write_text(f"{os.getpid()}\n")
            while marker.exists():  # the test kills the run here, or signals it and then removes the marker
                if os.getppid() != test:  # the test is gone: nothing will let this run go on
                    os._exit(1)
                time.sleep(0.01)
        return written

    return flush_then_pause


if __name__ == "__main__":
    CSVLogger.flush = pausing(CSVLogger.flush)
    main()
