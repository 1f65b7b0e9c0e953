"""Runs one theory-lab experiment into a run folder. The pipeline reaches it only through the config:
lab._target_ names run_lab, called with (cfg, run_dir=, device=)."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan_repro.config import check_rules
from gan_repro.errors import ConfigError
from gan_repro.files import write_json
from gan_repro.lab.figures import draw_lab_figure
from gan_repro.report import format_claim
from gan_repro.writeup import write_report

log = logging.getLogger(__name__)

# lab.name -> what it checks; the experiment is the module gan_repro.lab.<name>, with SETTINGS and run()
LABS = {
    "optimal_discriminator": "Eq. (2): D* = P_r/(P_r+P_g) and the value 2 JSD - 2 log 2",
    "gradient_identity": "Theorem 2.5: E[-grad log D*] = grad [KL - 2 JSD]",
    "manifold": "Theorems 2.1-2.4 on two curves in R^2",
    "cauchy": "Theorem 2.6: the -log D gradient under a noisy D is Cauchy",
    "noise_bound": "Theorem 3.3 in 1-D with exact W1",
    "jacobian": "Lemma 1: Jacobian spectra of a trained DCGAN's G",
}


def run_lab(
    cfg: DictConfig, *, run_dir: Path, device: torch.device, begin: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """Run experiment cfg.lab.name into run_dir: CSVs, figures/<name>.*, summary.json; returns the summary.

    lab.* is checked first; then `begin()` (the pipeline's: open the run folder) before any work."""
    name = cfg.lab.get("name")
    if name not in LABS:
        raise ConfigError(
            "lab.name", f"unknown theory-lab experiment {name!r}; choose one of {', '.join(LABS)}"
        )
    module = importlib.import_module(f"gan_repro.lab.{name}")
    check_rules(cfg.lab, module.SETTINGS, prefix="lab.")
    if begin is not None:
        begin()
    log.info("lab: %s (%s)", name, LABS[name])
    run_dir, start = Path(run_dir), time.perf_counter()
    summary = module.run(cfg, run_dir=run_dir, device=device)
    seconds = time.perf_counter() - start
    summary = {
        "lab": name,
        "checks": LABS[name],
        "status": "done",
        "seed": int(cfg.seed),
        "settings": OmegaConf.to_container(cfg.lab, resolve=True),
        **summary,
        "timings_s": {"lab_s": round(seconds, 2)},
    }
    write_json(run_dir / "summary.json", summary)
    draw_lab_figure(name, run_dir, formats=list(cfg.plot.formats))
    write_report(run_dir)
    for claim in summary["claims"]:
        log.info("%s", format_claim(claim))
    log.info("done in %.1f s: %s", seconds, run_dir)
    return summary
