"""`gan-repro`: the Hydra entry point. Seed, run folder, build objects, run the three stages."""
from __future__ import annotations

import logging
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_repro.config import check_config, config_dir
from gan_repro.data import build_dataset
from gan_repro.errors import ConfigError
from gan_repro.files import atomic_write
from gan_repro.plot import draw_figures
from gan_repro.probe import probe
from gan_repro.report import write_summary
from gan_repro.train import train

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train, probe and plot into run_dir; returns the summary written to summary.json."""
    # Step 1: check every setting before anything is written or trained.
    device = check_config(cfg)

    # Step 2: seed, and give the run folder its resolved config.
    seed_everything(cfg.seed)
    run_dir = Path(run_dir)
    atomic_write(run_dir / "config.yaml", lambda handle: handle.write(OmegaConf.to_yaml(cfg, resolve=True).encode()))
    log.info("run folder %s, device %s, %d CPU threads", run_dir, device, torch.get_num_threads())
    timings: dict[str, float] = {}

    # Step 3: data, scaled to [-1, 1] at dataset.image_size.
    start = time.perf_counter()
    dataset = build_dataset(cfg.dataset)
    timings["data_s"] = time.perf_counter() - start
    log.info("data: %s, %d images at %dx%d", cfg.dataset.name, len(dataset), cfg.dataset.image_size,
             cfg.dataset.image_size)

    # Step 4: train the GAN, snapshotting G after each of train.snapshot_epochs.
    start = time.perf_counter()
    checkpoints = train(cfg, dataset=dataset, run_dir=run_dir, device=device)
    timings["train_s"] = time.perf_counter() - start

    # Step 5: freeze each snapshot, train a fresh D from scratch, measure.
    start = time.perf_counter()
    probe(cfg, checkpoints=checkpoints, dataset=dataset, run_dir=run_dir, device=device)
    timings["probe_s"] = time.perf_counter() - start

    # Step 6: summary.json (and noise.csv), then the figures, from the CSVs alone.
    start = time.perf_counter()
    extra = {"dataset": cfg.dataset.name, "model": cfg.model.name, "loss": cfg.loss.name,
             "noise": OmegaConf.to_container(cfg.noise, resolve=True), "seed": cfg.seed, "device": str(device),
             "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
             "threads": torch.get_num_threads()}
    write_summary(run_dir, window=cfg.plot.window, extra=extra)
    draw_figures(run_dir, figures=list(cfg.plot.figures), window=cfg.plot.window, formats=list(cfg.plot.formats))
    timings["plot_s"] = time.perf_counter() - start
    summary = write_summary(run_dir, window=cfg.plot.window,
                            extra=extra | {"timings_s": {k: round(v, 2) for k, v in timings.items()}})
    for claim in summary["claims"]:
        log.info("%s %s: measured %s", "HOLDS " if claim["holds"] else "FAILS ", claim["claim"], claim["measured"])
    log.info("done in %.1f s: %s", sum(timings.values()), run_dir)
    return summary


def report_error(message: str, run_dir: Path | None) -> None:
    """One line on stderr, and the same line in the run's log.txt."""
    print(f"error: {message}", file=sys.stderr)
    if run_dir is not None and run_dir.is_dir():
        with open(run_dir / "log.txt", "a") as handle:
            handle.write(f"error: {message}\n")


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> None:
    """gan-repro [KEY=VALUE ...]: Figures 1-3 of Arjovsky & Bottou (2017). See conf/config.yaml."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run(cfg, run_dir)
    except ConfigError as error:
        if cfg.get("debug") is True or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        report_error(f"{error} (debug=true shows the traceback)", run_dir)
        sys.exit(2)


if __name__ == "__main__":
    main()
