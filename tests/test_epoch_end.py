"""A stop on the last batch of an epoch (or a checkpoint_every state saved there) still owes that epoch's
end; a stop at, just before or just after a snapshot (after an epoch or after G steps, mid-epoch) keeps it
exactly once: the resumed run ends byte-identical to an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_repro.pipeline import train_stage
from gan_repro.prepare import build_dataset
from gan_repro.runstate import Interrupted, RunControl, StopFlag
from tests.helpers import TINY, compose_config

pytestmark = pytest.mark.integration

# digits at 16x16, all 1797 images: 28 iterations per epoch; snapshots after G steps 10, 28, 40 and 56
SETTING = [*TINY, "train.epochs=2", "train.snapshot_epochs=[1,2]", "train.snapshot_iterations=[10,40]"]
SNAPSHOT_FILES = [f"checkpoints/iteration_{steps:06d}.pt" for steps in (10, 28, 40, 56)]


class StopAfter(StopFlag):
    """A stop request that arrives after `count` checks (one check per training iteration)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.left = count

    @property
    def requested(self) -> bool:
        self.left -= 1
        return self.left <= 0


def train_into(run_dir: Path, stop: StopFlag) -> None:
    cfg = compose_config(SETTING)
    run_dir.mkdir(exist_ok=True)
    torch.manual_seed(cfg.seed)  # as pipeline.run seeds before training
    train_stage(
        cfg,
        dataset=build_dataset(cfg.dataset),
        run_dir=run_dir,
        device=torch.device("cpu"),
        control=RunControl(stop=stop, quiet=True),
    )


@pytest.mark.parametrize("stop_at", [28, 27, 29, 9, 10, 11, 40])
def test_stop_at_an_epoch_end_or_a_snapshot_then_resume(tmp_path: Path, stop_at: int) -> None:
    train_into(tmp_path / "reference", StopFlag())
    with pytest.raises(Interrupted, match=f"train iteration {stop_at} "):
        train_into(tmp_path / "stopped", StopAfter(stop_at))
    train_into(tmp_path / "stopped", StopFlag())  # resume
    snapshots = (tmp_path / "reference" / "snapshots.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in snapshots[1:]] == [
        ["10", "0.35714285714285715"],
        ["28", "1.0"],
        ["40", "1.4285714285714286"],
        ["56", "2.0"],
    ]
    for name in ("train.csv", "snapshots.csv", *SNAPSHOT_FILES):
        reference, resumed = (tmp_path / run / name for run in ("reference", "stopped"))
        if name.endswith(".csv"):
            assert resumed.read_bytes() == reference.read_bytes(), name
        else:
            got, want = torch.load(resumed, weights_only=True), torch.load(reference, weights_only=True)
            for key in want["generator"]:
                assert torch.equal(got["generator"][key], want["generator"][key]), (name, key)
