"""Stage 2: freeze each generator snapshot, train a fresh D from scratch, measure what G would feel.

At each logged iteration (D held fixed, a fresh noise batch) we record D's cost and accuracy and
the norms of the generator's gradients for both costs:
    grad_norm_minimax       = || grad_theta E_z[log(1 - D(G_theta(z)))] ||_2     (Figure 2)
    grad_norm_nonsaturating = || grad_theta E_z[-log D(G_theta(z))] ||_2         (Figure 3)
fp32 on purpose (float64 optional), never autocast or TF32: these values reach 1e-12 and below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gan_repro.checkpoints import load_generator
from gan_repro.data import BadImagePolicy, infinite_batches
from gan_repro.logger import CSVLogger
from gan_repro.losses import GENERATOR_LOSSES, log_cost_slopes
from gan_repro.models import build_discriminator, requires_grad
from gan_repro.noise import NoiseSchedule, add_instance_noise, stage_schedule
from gan_repro.runstate import Interrupted, RunControl, RunState, keep_rows
from gan_repro.steps import discriminator_step, make_adam, memory_format, sample_z

log = logging.getLogger(__name__)

PROBE_COLUMNS = [
    "snapshot_epoch",
    "iteration",
    "d_loss",
    "d_accuracy",
    "grad_norm_minimax",
    "grad_norm_nonsaturating",
    "noise_std",
    "sweep_noise_std",
]  # sweep_noise_std: blank unless sweeping
PROBE_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@contextmanager
def exact_float_math(device: torch.device) -> Iterator[None]:
    """Turn off TF32 and autocast for the duration (the probe measures values down to 1e-12)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.autocast(device.type, enabled=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def generator_grad_norms(
    generator: nn.Module,
    discriminator: nn.Module,
    z: torch.Tensor,
    *,
    kinds: Sequence[str] = GENERATOR_LOSSES,
    batched: bool = True,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
) -> dict[str, torch.Tensor]:
    """|| grad_theta cost ||_2 over all of G's parameters, for each generator cost, D held fixed.

    With noise, the cost is taken at D(G(z) + eps) and the gradient flows through the noisy
    samples, as Corollary 3.2 prescribes (eps does not depend on theta).

    Every cost is a function of D's logits l_i, so grad cost = sum_i c_i grad l_i with c_i = d cost / d l_i.
    We backpropagate the weights |c_i| / max_j |c_j| (in (0, 1], so the largest never underflows) and
    scale the norm back by max_j |c_j| in float64: a norm of 1e-30 comes out as 1e-30, not 0.
    One forward, and one batched backward for all costs (or one backward per cost when batched=False).
    """
    parameters = list(generator.parameters())
    was_tracking = [p.requires_grad for p in parameters]
    requires_grad(generator, True)
    try:
        with torch.enable_grad():
            logits = discriminator(add_instance_noise(generator(z), sigma, clip_sigmas=clip_sigmas))  # (B,)
            log_slopes = torch.stack([log_cost_slopes(logits, kind) for kind in kinds])  # (K, B), float64
            peaks = log_slopes.max(dim=1, keepdim=True).values  # (K, 1): log max_j |c_j|
            weights = torch.exp(log_slopes - peaks).to(logits.dtype)  # (K, B) in (0, 1]
            if batched:
                grads = torch.autograd.grad(logits, parameters, grad_outputs=weights, is_grads_batched=True)
                squares = sum(
                    g.double().pow(2).reshape(len(kinds), -1).sum(1) for g in grads
                )  # (K,); scalars too
            else:
                squares = torch.stack(
                    [
                        sum(
                            g.double().pow(2).sum()
                            for g in torch.autograd.grad(
                                logits, parameters, grad_outputs=weights[k], retain_graph=k + 1 < len(kinds)
                            )
                        )
                        for k in range(len(kinds))
                    ]
                )
    finally:  # leave G as it was (frozen in the probe)
        for parameter, flag in zip(parameters, was_tracking, strict=True):
            parameter.requires_grad_(flag)
    norms = peaks.squeeze(1).exp() * squares.sqrt()  # (K,), float64
    return {f"grad_norm_{kind}": norms[k] for k, kind in enumerate(kinds)}


def use_batched_backward(setting: str | bool, device: torch.device) -> bool:
    """probe.batched_backward: auto = one vmap'd backward on a GPU, two backward passes on a CPU."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


@dataclass
class SnapshotProbe:
    """What probing one snapshot needs: the probe's settings, the architecture, and where rows go."""

    probe_cfg: DictConfig
    model_cfg: DictConfig
    dataset_cfg: DictConfig
    performance_cfg: DictConfig
    clip_sigmas: float
    seed: int
    num_workers: int  # DataLoader workers for on-disk datasets (train.num_workers)
    dataset: Dataset
    device: torch.device
    logger: CSVLogger
    control: RunControl
    progress: tqdm

    def written(self, rows: list[dict], epoch: int) -> None:
        """Check the rows the logger just wrote for NaN/inf and show the newest in the progress bar."""
        self.control.check_rows(
            rows,
            ("d_loss", "grad_norm_minimax", "grad_norm_nonsaturating"),
            lambda row: f"probe of snapshot {epoch}, iteration {row['iteration']}",
        )
        if rows:
            self.progress.set_postfix(
                epoch=epoch,
                d_loss=f"{rows[-1]['d_loss']:.2e}",
                minimax=f"{rows[-1]['grad_norm_minimax']:.2e}",
                refresh=False,
            )

    def fresh_discriminator(self, dtype: torch.dtype) -> tuple[nn.Module, torch.optim.Optimizer]:
        """D with the same architecture and initial weights for every snapshot, and Adam as in training."""
        torch.manual_seed(self.probe_cfg.init_seed)
        discriminator = build_discriminator(
            self.model_cfg,
            image_size=int(self.dataset_cfg.image_size),
            channels=int(self.dataset_cfg.channels),
        ).to(self.device, dtype, memory_format=memory_format(self.performance_cfg))
        return discriminator, make_adam(discriminator, self.probe_cfg)

    def run(
        self, generator: nn.Module, epoch: int, schedule: NoiseSchedule, sweep_sigma: float | None
    ) -> None:
        """Train a fresh D against the frozen generator for probe.iterations, logging every log_every.

        Every (snapshot, sigma) pair starts from the same D weights, data order and z batches."""
        probe_cfg, dtype = self.probe_cfg, PROBE_DTYPES[self.probe_cfg.dtype]
        layout, device, nz = memory_format(self.performance_cfg), self.device, self.model_cfg.nz
        generator = generator.to(
            dtype=dtype, memory_format=layout
        )  # layout only: the math stays fp32 (or fp64)
        requires_grad(generator, False)  # frozen: G has no optimizer, and no gradient is kept on it
        # G stays in train mode (BatchNorm on batch statistics), as when it was trained and as it would be
        # when these gradients were applied; its parameters never change.
        discriminator, optimizer = self.fresh_discriminator(dtype)
        torch.manual_seed(self.seed + 1000 * epoch)  # the probe's z batches, reproducible per snapshot
        batches = infinite_batches(
            self.dataset,
            batch_size=probe_cfg.batch_size,
            rng=torch.Generator().manual_seed(self.seed + 1000 * epoch),
            device=device,
            num_workers=self.num_workers,
            bad_images=BadImagePolicy(self.dataset_cfg.get("bad_images")),
        )
        batched_backward = use_batched_backward(probe_cfg.batched_backward, device)
        for iteration in range(1, probe_cfg.iterations + 1):
            sigma = schedule.sigma(iteration - 1, probe_cfg.iterations)
            real = next(batches).to(dtype=dtype, memory_format=layout)
            with torch.no_grad():
                fake = generator(sample_z(real.shape[0], nz, device=device, dtype=dtype))
            metrics = discriminator_step(
                discriminator, optimizer, real, fake, sigma=sigma, clip_sigmas=self.clip_sigmas
            )
            if iteration == 1 or iteration % probe_cfg.log_every == 0:
                z = sample_z(probe_cfg.batch_size, nz, device=device, dtype=dtype)  # a fresh batch
                norms = generator_grad_norms(
                    generator,
                    discriminator,
                    z,
                    batched=batched_backward,
                    sigma=sigma,
                    clip_sigmas=self.clip_sigmas,
                )
                self.written(
                    self.logger.log(
                        {
                            "snapshot_epoch": epoch,
                            "iteration": iteration,
                            **metrics,
                            **norms,
                            "noise_std": sigma,
                            "sweep_noise_std": sweep_sigma,
                        }
                    ),
                    epoch,
                )
            self.progress.update()
            if (
                self.control.stop.requested
            ):  # this snapshot's probe reruns from its start on resume (it is seeded)
                raise Interrupted(f"probe of snapshot {epoch}, iteration {iteration}")
        self.written(
            self.logger.flush(), epoch
        )  # every row of this probe is on disk before it is marked done


def probe_noises(probe_cfg: DictConfig, noise_cfg: DictConfig) -> list[tuple[NoiseSchedule, float | None]]:
    """(schedule, swept sigma) per probe of a snapshot: the noise group's probe schedule, or one constant
    sigma per entry of probe.noise_stds (experiment=noise)."""
    if probe_cfg.get("noise_stds") is None:
        return [(stage_schedule(noise_cfg, "probe"), None)]
    return [(NoiseSchedule("constant", start=float(sigma)), float(sigma)) for sigma in probe_cfg.noise_stds]


def same_unit(rows, epoch: int, sweep_sigma: float | None):
    """Rows of probe.csv that belong to the probe of (snapshot epoch, swept sigma)."""
    sweep = rows["sweep_noise_std"]
    return (rows["snapshot_epoch"] == epoch) & (sweep.isna() if sweep_sigma is None else sweep == sweep_sigma)


def keep_finished_units(
    path: Path, state: RunState, units: list[tuple[int, NoiseSchedule, float | None]]
) -> None:
    """Resume: keep only the probe.csv rows of the probes that state marks done."""
    done = [(epoch, sweep) for epoch, _, sweep in units if state.unit_done(epoch, sweep)]

    def finished(rows):
        mask = rows["iteration"] < 0  # all False
        for done_epoch, done_sweep in done:
            mask |= same_unit(rows, done_epoch, done_sweep)
        return mask

    dropped = keep_rows(path, finished)
    log.info(
        "probe: resuming; %d of %d probes done (dropped %d rows of an unfinished one)",
        len(done),
        len(units),
        dropped,
    )


def probe(
    probe_cfg: DictConfig,
    *,
    model_cfg: DictConfig,
    dataset_cfg: DictConfig,
    noise_cfg: DictConfig,
    performance_cfg: DictConfig,
    seed: int,
    num_workers: int,
    checkpoints: dict[int, Path],
    dataset: Dataset,
    run_dir: Path,
    device: torch.device,
    state: RunState | None = None,
    control: RunControl | None = None,
) -> Path:
    """Probe every snapshot (with every swept sigma), skipping those `state` marks done; returns probe.csv."""
    path, control = Path(run_dir) / "probe.csv", control or RunControl()
    units = [
        (epoch, schedule, sweep)
        for epoch in sorted(checkpoints)
        for schedule, sweep in probe_noises(probe_cfg, noise_cfg)
    ]
    if state is not None and path.exists():  # even before the first probe is done: its rows are dropped
        keep_finished_units(path, state, units)
    progress = control.progress(len(units) * probe_cfg.iterations, desc="probe")
    loaded: dict[int, nn.Module] = {}
    with (
        exact_float_math(device),
        CSVLogger(path, PROBE_COLUMNS, buffer_rows=performance_cfg.log_buffer) as logger,
    ):
        snapshot_probe = SnapshotProbe(
            probe_cfg,
            model_cfg,
            dataset_cfg,
            performance_cfg,
            float(noise_cfg.clip_sigmas),
            seed,
            num_workers,
            dataset,
            device,
            logger,
            control,
            progress,
        )
        for epoch, schedule, sweep_sigma in units:
            if state is not None and state.unit_done(epoch, sweep_sigma):
                progress.update(probe_cfg.iterations)
                continue
            if epoch not in loaded:
                loaded = {epoch: load_generator(checkpoints[epoch], model_cfg, dataset_cfg, device=device)}
            log.info(
                "probe: snapshot after epoch %d, %d D iterations, instance noise: %s",
                epoch,
                probe_cfg.iterations,
                schedule,
            )
            snapshot_probe.run(loaded[epoch], epoch, schedule, sweep_sigma)
            if state is not None:
                state.probe_units_done.append([epoch, sweep_sigma])
                state.save()
    progress.close()
    return path
