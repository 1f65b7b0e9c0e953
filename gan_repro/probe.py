"""Stage 2: freeze each generator snapshot, train a fresh D from scratch, measure what G would feel.

At each logged iteration (D held fixed, a fresh noise batch) we record D's cost and accuracy and
the norms of the generator's gradients for both costs:
    grad_norm_minimax       = || grad_theta E_z[log(1 - D(G_theta(z)))] ||_2     (Figure 2)
    grad_norm_nonsaturating = || grad_theta E_z[-log D(G_theta(z))] ||_2         (Figure 3)
fp32 on purpose (float64 optional), never autocast or TF32: these values reach 1e-12 and below.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gan_repro.data import BadImagePolicy, infinite_batches
from gan_repro.errors import ConfigError
from gan_repro.logger import CSVLogger
from gan_repro.losses import GENERATOR_LOSSES, log_cost_slopes
from gan_repro.models import build_discriminator, build_generator, requires_grad
from gan_repro.noise import NoiseSchedule, add_instance_noise, stage_schedule
from gan_repro.runstate import Interrupted, RunState, StopFlag, check_finite, keep_rows
from gan_repro.train import discriminator_step, make_adam, memory_format, model_signature, sample_noise

log = logging.getLogger(__name__)

PROBE_COLUMNS = ["snapshot_epoch", "iteration", "d_loss", "d_accuracy", "grad_norm_minimax",
                 "grad_norm_nonsaturating", "noise_std", "sweep_noise_std"]  # sweep_noise_std: blank unless sweeping
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


def generator_grad_norms(generator: nn.Module, discriminator: nn.Module, z: torch.Tensor, *,
                         kinds: Sequence[str] = GENERATOR_LOSSES, batched: bool = True, noise_std: float = 0.0,
                         clip_sigmas: float = 4.0) -> dict[str, torch.Tensor]:
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
            logits = discriminator(add_instance_noise(generator(z), noise_std, clip_sigmas=clip_sigmas))  # (B,)
            log_slopes = torch.stack([log_cost_slopes(logits, kind) for kind in kinds])  # (K, B), float64
            peaks = log_slopes.max(dim=1, keepdim=True).values  # (K, 1): log max_j |c_j|
            weights = torch.exp(log_slopes - peaks).to(logits.dtype)  # (K, B) in (0, 1]
            if batched:
                grads = torch.autograd.grad(logits, parameters, grad_outputs=weights, is_grads_batched=True)
                squares = sum(g.double().pow(2).reshape(len(kinds), -1).sum(1) for g in grads)  # (K,); scalars too
            else:
                squares = torch.stack([
                    sum(g.double().pow(2).sum() for g in torch.autograd.grad(
                        logits, parameters, grad_outputs=weights[k], retain_graph=k + 1 < len(kinds)))
                    for k in range(len(kinds))])
    finally:  # leave G as it was (frozen in the probe)
        for parameter, flag in zip(parameters, was_tracking, strict=True):
            parameter.requires_grad_(flag)
    norms = peaks.squeeze(1).exp() * squares.sqrt()  # (K,), float64
    return {f"grad_norm_{kind}": norms[k] for k, kind in enumerate(kinds)}


def use_batched_backward(setting: str | bool, device: torch.device) -> bool:
    """probe.batched_backward: auto = one vmap'd backward on a GPU, two backward passes on a CPU (no slower there, measured)."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


def load_generator(path: Path, cfg: DictConfig, *, device: torch.device) -> nn.Module:
    """Load a snapshot's G (weights only, nothing executed) after checking it matches this config."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # a torn, foreign or malicious file
        raise ConfigError("checkpoint", f"cannot load {path}: {error.__class__.__name__}: {error}") from None
    if not isinstance(state, dict) or "generator" not in state:
        raise ConfigError("checkpoint", f"{path} is not a gan-repro checkpoint (no 'generator' entry)")
    expected = model_signature(cfg)
    if state.get("signature") != expected:
        raise ConfigError("checkpoint", f"{path} was saved for {state.get('signature')}, but this run's config "
                          f"is {expected}; use the run's own config")
    generator = build_generator(cfg.model, image_size=int(cfg.dataset.image_size),
                                channels=int(cfg.dataset.channels)).to(device)
    generator.load_state_dict(state["generator"])
    return generator


def probe_snapshot(cfg: DictConfig, *, generator: nn.Module, dataset: Dataset, epoch: int, logger: CSVLogger,
                   device: torch.device, progress: tqdm, noise: NoiseSchedule, sweep_noise_std: float | None,
                   stop: StopFlag) -> None:
    """Train a fresh D against the frozen generator for cfg.probe.iterations, logging every log_every.

    Every (snapshot, noise) pair starts from the same D weights, data order and noise batches."""
    probe_cfg, dtype, layout = cfg.probe, PROBE_DTYPES[cfg.probe.dtype], memory_format(cfg.performance)
    generator = generator.to(dtype=dtype, memory_format=layout)  # layout only: the math stays fp32 (or fp64)
    requires_grad(generator, False)  # frozen: G has no optimizer, and no gradient is kept on it
    # G stays in train mode (BatchNorm on batch statistics), as when it was trained and as it would be
    # when these gradients were applied; its parameters never change.

    # A fresh D with the same architecture and init for every snapshot, and the same optimizer as in training.
    torch.manual_seed(probe_cfg.init_seed)
    discriminator = build_discriminator(cfg.model, image_size=int(cfg.dataset.image_size),
                                        channels=int(cfg.dataset.channels)).to(device, dtype, memory_format=layout)
    optimizer = make_adam(discriminator, probe_cfg)
    torch.manual_seed(cfg.seed + 1000 * epoch)  # the probe's noise batches, reproducible per snapshot
    batches = infinite_batches(dataset, batch_size=probe_cfg.batch_size,
                               generator=torch.Generator().manual_seed(cfg.seed + 1000 * epoch),
                               device=device, num_workers=cfg.train.num_workers,
                               bad_images=BadImagePolicy(cfg.dataset.get("bad_images", "stop")))

    clip_sigmas = float(cfg.noise.clip_sigmas)
    batched_backward = use_batched_backward(probe_cfg.batched_backward, device)

    def written(rows: list[dict]) -> None:
        """Check the rows the logger just wrote for NaN/inf and show the newest in the progress bar."""
        for row in rows:
            check_finite(row, ("d_loss", "grad_norm_minimax", "grad_norm_nonsaturating"),
                         where=f"probe of snapshot {epoch}, iteration {row['iteration']}", mode=cfg.on_nonfinite)
        if rows:
            progress.set_postfix(epoch=epoch, d_loss=f"{rows[-1]['d_loss']:.2e}",
                                 minimax=f"{rows[-1]['grad_norm_minimax']:.2e}", refresh=False)

    for iteration in range(1, probe_cfg.iterations + 1):
        noise_std = noise.std(iteration - 1, probe_cfg.iterations)
        real = next(batches).to(dtype=dtype, memory_format=layout)
        with torch.no_grad():
            fake = generator(sample_noise(real.shape[0], cfg.model.nz, device=device, dtype=dtype))
        metrics = discriminator_step(discriminator, optimizer, real, fake, noise_std=noise_std, clip_sigmas=clip_sigmas)
        if iteration == 1 or iteration % probe_cfg.log_every == 0:
            z = sample_noise(probe_cfg.batch_size, cfg.model.nz, device=device, dtype=dtype)  # a fresh batch
            norms = generator_grad_norms(generator, discriminator, z, batched=batched_backward,
                                         noise_std=noise_std, clip_sigmas=clip_sigmas)
            written(logger.log({"snapshot_epoch": epoch, "iteration": iteration, **metrics, **norms,
                                "noise_std": noise_std, "sweep_noise_std": sweep_noise_std}))
        progress.update()
        if stop.requested:  # this snapshot's probe reruns from its start on resume (it is seeded)
            raise Interrupted(f"probe of snapshot {epoch}, iteration {iteration}")
    written(logger.flush())  # every row of this probe is on disk before it is marked done


def probe_noises(cfg: DictConfig) -> list[tuple[NoiseSchedule, float | None]]:
    """(schedule, swept sigma) per probe of a snapshot: the noise group's probe schedule, or one constant
    sigma per entry of probe.noise_stds (experiment=noise)."""
    if cfg.probe.get("noise_stds") is None:
        return [(stage_schedule(cfg.noise, "probe"), None)]
    return [(NoiseSchedule("constant", start=float(std)), float(std)) for std in cfg.probe.noise_stds]


def same_unit(rows, epoch: int, sweep_noise_std: float | None):
    """Rows of probe.csv that belong to the probe of (snapshot epoch, swept sigma)."""
    sweep = rows["sweep_noise_std"]
    return (rows["snapshot_epoch"] == epoch) & (sweep.isna() if sweep_noise_std is None else sweep == sweep_noise_std)


def probe(cfg: DictConfig, *, checkpoints: dict[int, Path], dataset: Dataset, run_dir: Path,
          device: torch.device, state: RunState | None = None, stop: StopFlag | None = None) -> Path:
    """Probe every snapshot (with every swept sigma), skipping those `state` marks done; returns probe.csv."""
    path, stop = Path(run_dir) / "probe.csv", stop or StopFlag()
    units = [(epoch, schedule, sweep) for epoch in sorted(checkpoints) for schedule, sweep in probe_noises(cfg)]
    if state is not None and state.probe_units_done:  # resume: keep only the rows of finished probes
        done = [(epoch, sweep) for epoch, _, sweep in units if state.unit_done(epoch, sweep)]
        def finished(rows):
            mask = rows["iteration"] < 0  # all False
            for done_epoch, done_sweep in done:
                mask |= same_unit(rows, done_epoch, done_sweep)
            return mask

        dropped = keep_rows(path, finished)
        log.info("probe: resuming; %d of %d probes done (dropped %d rows of an unfinished one)", len(done),
                 len(units), dropped)
    progress = tqdm(total=len(units) * cfg.probe.iterations, desc="probe", unit="it", disable=cfg.quiet,
                    dynamic_ncols=True, mininterval=1.0)
    loaded: dict[int, nn.Module] = {}
    with exact_float_math(device), CSVLogger(path, PROBE_COLUMNS, buffer_rows=cfg.performance.log_buffer) as logger:
        for epoch, noise, sweep_noise_std in units:
            if state is not None and state.unit_done(epoch, sweep_noise_std):
                progress.update(cfg.probe.iterations)
                continue
            if epoch not in loaded:
                loaded = {epoch: load_generator(checkpoints[epoch], cfg, device=device)}
            log.info("probe: snapshot after epoch %d, %d D iterations, instance noise: %s", epoch,
                     cfg.probe.iterations, noise)
            probe_snapshot(cfg, generator=loaded[epoch], dataset=dataset, epoch=epoch, logger=logger, device=device,
                           progress=progress, noise=noise, sweep_noise_std=sweep_noise_std, stop=stop)
            if state is not None:
                state.probe_units_done.append([epoch, sweep_noise_std])
                state.save()
    progress.close()
    return path
