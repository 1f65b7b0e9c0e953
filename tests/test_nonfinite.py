"""A NaN or inf loss stops the run naming the quantity and iteration (or warns); tiny values never do."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import gan_repro.steps
from gan_repro.errors import EXIT_CODES
from gan_repro.pipeline import run
from gan_repro.runstate import NonFiniteError, check_finite
from tests.helpers import TINY, compose_config
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration


def test_tiny_values_are_not_errors() -> None:
    check_finite(
        {"d_loss": 1e-300, "grad_norm_minimax": 5e-324, "g_loss": 0.0},
        ("d_loss", "grad_norm_minimax", "g_loss"),
        where="x",
        mode="stop",
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_stop_naming_them(value: float) -> None:
    with pytest.raises(NonFiniteError, match=f"grad_norm_minimax became {value} at probe iteration 7"):
        check_finite(
            {"grad_norm_minimax": value}, ("grad_norm_minimax",), where="probe iteration 7", mode="stop"
        )


def nan_generator_loss(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """G's cost with a NaN in it (what a diverging run produces)."""
    return (logits * float("nan")).mean()


def test_training_stops_at_the_first_nan(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gan_repro.steps, "generator_cost", nan_generator_loss)
    with pytest.raises(NonFiniteError, match="g_loss became nan at train iteration 1;"):
        run(compose_config(TINY), tmp_path / "run")
    assert '"status": "failed"' in (tmp_path / "run" / "state.json").read_text()


def test_the_command_line_exits_3_naming_the_quantity(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gan_repro.steps, "generator_cost", nan_generator_loss)
    code, output = call_main([*TINY, f"hydra.run.dir={tmp_path / 'run'}"])
    assert code == EXIT_CODES[NonFiniteError] == 3, output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(
        "error: on_nonfinite: g_loss became nan at train iteration 1;"
    )


def test_warn_mode_carries_on(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(gan_repro.steps, "generator_cost", nan_generator_loss)
    with caplog.at_level(logging.WARNING, logger="gan_repro.runstate"):
        cfg = compose_config(
            TINY + ["on_nonfinite=warn", "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=3"]
        )
        summary = run(cfg, tmp_path / "run")
    assert "g_loss became nan at train iteration 1 (on_nonfinite=warn: carrying on)" in caplog.text
    assert summary["status"] == "done" and (tmp_path / "run" / "figures" / "fig2.png").is_file()
