"""Stage 2: freeze each generator snapshot, train a fresh D from scratch, measure what G would feel.

At each logged iteration (D held fixed, a fresh noise batch) we record D's cost and accuracy and
the norms of the generator's gradients for the critic's costs (critic=gan, the paper's probe: both):
    grad_norm_minimax       = || grad_theta E_z[log(1 - D(G_theta(z)))] ||_2     (Figure 2)
    grad_norm_nonsaturating = || grad_theta E_z[-log D(G_theta(z))] ||_2         (Figure 3)
    grad_norm_generator     = || grad_theta (G's cost of another critic) ||_2    (critics.py; a user's too)
and the mean input-gradient norms ||grad_x D(x)|| at real and at generated samples; at the variance points
also each cost's cosine with the transport direction, towards the fakes' partners among the evaluation's
real batch (transport.py: how useful a gradient is, not only how big).
fp32 on purpose (float64 optional), never autocast or TF32: these values reach 1e-12 and below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gan_repro.checkpoints import Snapshot, load_generator
from gan_repro.columns import columns_of, finite_checked
from gan_repro.critics import (
    Critic,
    cost_column,
    critic_step,
    input_gradient_norm,
    make_optimizer,
    probe_critics,
)
from gan_repro.data import BadImagePolicy, DataSplits, infinite_batches
from gan_repro.errors import ConfigError
from gan_repro.logger import CSVLogger
from gan_repro.losses import (
    GENERATOR_LOSSES,
    Objective,
    cost_slope_signs,
    critic_loss,
    decision_accuracy,
    log_cost_slopes,
)
from gan_repro.models import build_discriminator, requires_grad, tracking_gradients
from gan_repro.noise import NoiseSchedule, add_instance_noise, stage_schedule
from gan_repro.runstate import Interrupted, RunControl, RunState, keep_rows
from gan_repro.snapshot_names import CONTROL_SNAPSHOT, snapshot_words
from gan_repro.steps import derived_seed, memory_format, sample_z
from gan_repro.transport import signed_directions, transport_cosines

log = logging.getLogger(__name__)

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


def scaled_cost_gradients(
    generator: nn.Module,
    discriminator: nn.Module,
    z: torch.Tensor,
    *,
    kinds: Sequence[str | Objective] = GENERATOR_LOSSES,
    batched: bool = True,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
    rng: torch.Generator | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """For each generator cost, its gradient over G's parameters divided by max_j |c_j|, and that log factor.

    Every cost is a function of D's logits l_i, so grad cost = sum_i c_i grad l_i with c_i = d cost / d l_i.
    We backpropagate the weights s_i |c_i| / max_j |c_j| (in [-1, 1], so the largest never underflows; s_i
    the sign where it differs between samples) and keep log max_j |c_j| in float64: a norm of 1e-30 comes
    out as 1e-30, not 0 (a user's objective gives log |c_i| itself: by default by autograd in float64,
    losses.Objective). With noise, the cost is taken at D(G(z) + eps) and the gradient flows through the
    noisy samples, as Corollary 3.2 prescribes.
    One forward, and one batched backward for all costs (or one backward per cost when batched=False).
    Returns (log peaks (K,) float64, per parameter a (K, *shape) gradient, D's logits (B,) detached, and
    the samples D saw, G(z) + eps (B, C, H, W) detached)."""
    parameters = list(generator.parameters())
    with tracking_gradients(generator), torch.enable_grad():  # G's flags restored (frozen in the probe)
        samples = add_instance_noise(generator(z), sigma, clip_sigmas=clip_sigmas, rng=rng)
        logits = discriminator(samples)
        log_slopes = torch.stack([log_cost_slopes(logits, kind) for kind in kinds])  # (K, B), float64
        signs = torch.stack([cost_slope_signs(logits, kind) for kind in kinds])  # (K, B): +-1 or 0
        peaks = log_slopes.max(dim=1).values  # (K,): log max_j |c_j|
        peaks = torch.where(torch.isfinite(peaks), peaks, torch.zeros_like(peaks))  # all c_j = 0: norm 0
        weights = (signs * torch.exp(log_slopes - peaks[:, None])).to(logits.dtype)  # (K, B) in [-1, 1]
        if batched:
            grads = list(torch.autograd.grad(logits, parameters, grad_outputs=weights, is_grads_batched=True))
        else:
            per_cost = [
                torch.autograd.grad(
                    logits, parameters, grad_outputs=weights[k], retain_graph=k + 1 < len(kinds)
                )
                for k in range(len(kinds))
            ]
            grads = [torch.stack(gradients) for gradients in zip(*per_cost, strict=True)]
    return peaks, grads, logits.detach(), samples.detach()


def gradient_norms(
    log_peaks: torch.Tensor, grads: list[torch.Tensor], kinds: Sequence[str | Objective] = GENERATOR_LOSSES
) -> dict[str, torch.Tensor]:
    """Each cost's exp(log peak) * ||scaled gradient||_2, in float64, under its probe.csv column
    (grad_norm_minimax, grad_norm_nonsaturating, or grad_norm_generator for another critic's cost)."""
    squares = sum(g.double().pow(2).reshape(len(kinds), -1).sum(1) for g in grads)  # (K,); scalars too
    norms = log_peaks.exp() * squares.sqrt()
    return {cost_column(kind): norms[k] for k, kind in enumerate(kinds)}


def generator_grad_norms(
    generator: nn.Module,
    discriminator: nn.Module,
    z: torch.Tensor,
    *,
    kinds: Sequence[str | Objective] = GENERATOR_LOSSES,
    batched: bool = True,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
    rng: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """|| grad_theta cost ||_2 over all of G's parameters, for each generator cost, D held fixed."""
    log_peaks, grads, _, _ = scaled_cost_gradients(
        generator,
        discriminator,
        z,
        kinds=kinds,
        batched=batched,
        sigma=sigma,
        clip_sigmas=clip_sigmas,
        rng=rng,
    )
    return gradient_norms(log_peaks, grads, kinds)


def use_batched_backward(setting: str | bool, device: torch.device) -> bool:
    """probe.batched_backward: auto = one vmap'd backward on a GPU, two backward passes on a CPU."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


def batch_statistics(scaled: torch.Tensor, log_peaks: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per cost, from K batch gradients g_k = exp(log_peaks[k]) * scaled[k] (scaled: (K, C, P) float64,
    log_peaks: (K, C)), each (C,) float64:
        mean_norm = mean_k ||g_k||                                      (iteration 0's norm: K batches)
        spread    = sqrt(sum_k ||g_k - mean g||^2 / (K - 1))            (the gradient's spread over z)
        relvar    = sum_k ||g_k - mean g||^2 / ((K - 1) ||mean g||^2)   (how far the batches disagree)
    Every g_k is first divided by exp(max_k log_peaks[k]) (factors in (0, 1], so nothing that matters over-
    or underflows) and the norms multiplied back in float64; relvar is free of the common factor."""
    top = log_peaks.max(dim=0).values  # (C,)
    gradients = scaled * torch.exp(log_peaks - top)[..., None]  # (K, C, P)
    mean = gradients.mean(dim=0)  # (C, P)
    squared_spread = (gradients - mean).pow(2).sum(dim=(0, 2)) / (gradients.shape[0] - 1)  # (C,)
    return {
        "mean_norm": top.exp() * gradients.pow(2).sum(dim=2).sqrt().mean(dim=0),
        "spread": top.exp() * squared_spread.sqrt(),
        "relvar": squared_spread / mean.pow(2).sum(dim=1),
    }


def relative_variance(scaled: torch.Tensor, log_peaks: torch.Tensor) -> torch.Tensor:
    """sum_k ||g_k - mean g||^2 / ((K - 1) ||mean g||^2) per cost, from K scaled gradients."""
    return batch_statistics(scaled, log_peaks)["relvar"]


@dataclass(frozen=True)
class CostDirections:
    """Each cost's gradient direction at one z batch of the frozen G (a variance point): what the transport
    cosine compares with the transport direction once the evaluation's real batch is drawn."""

    generator: nn.Module
    z: torch.Tensor  # (B, nz): the batch the gradient norms were measured at
    kinds: tuple[str | Objective, ...]
    directions: torch.Tensor  # (K, P) float64: each cost's gradient over its largest slope, signed

    def transport_cosines(self, samples: torch.Tensor, reals: torch.Tensor) -> dict[str, float | None]:
        """grad_cosine_transport_<cost> for each cost: cos(grad cost, grad T), the fakes `samples` = G(z)
        (+ eps) (B, C, H, W) paired with `reals` (B, C, H, W) by optimal assignment (transport.py)."""
        values = transport_cosines(self.generator, self.z, samples, reals, self.directions)
        return {
            cost_column(kind).replace("grad_norm", "grad_cosine_transport"): value
            for kind, value in zip(self.kinds, values, strict=True)
        }


@dataclass(frozen=True)
class FakeBatch:
    """A logged point's fresh fakes: D's logits on them, the samples D saw, the gradient columns measured
    there, and (at variance points, where G's gradients were measured) the costs' gradient directions."""

    logits: torch.Tensor  # (B,) detached
    samples: torch.Tensor  # (B, C, H, W): G(z) (+ eps) or the control's images (+ eps), detached
    measured: dict[str, Any]
    directions: CostDirections | None = None


class GeneratorSource:
    """The frozen G as the source of fakes: a D step's fakes, and at logged points the gradient norms (and
    at variance points their relative variance and directions) from fresh z, whose fakes D is also
    evaluated on."""

    def __init__(
        self,
        generator: nn.Module,
        *,
        nz: int,
        batch_size: int,
        dtype: torch.dtype,
        device: torch.device,
        batched: bool,
        clip_sigmas: float,
        variance_batches: int,
    ) -> None:
        self.generator, self.nz, self.batch_size, self.dtype, self.device = (
            generator,
            nz,
            batch_size,
            dtype,
            device,
        )
        self.batched, self.clip_sigmas, self.variance_batches = batched, clip_sigmas, variance_batches

    def z(self, count: int) -> torch.Tensor:
        """A fresh z batch (the global RNG, seeded per probe unit)."""
        return sample_z(count, self.nz, device=self.device, dtype=self.dtype)

    def step_fakes(self, count: int) -> torch.Tensor:
        """G(z) for a D step, no graph kept."""
        with torch.no_grad():
            return self.generator(self.z(count))

    def measure(
        self,
        discriminator: nn.Module,
        kinds: Sequence[str | Objective],
        sigma: float,
        rng: torch.Generator,
        with_variance: bool,
        start: bool = False,
    ) -> FakeBatch:
        """D's logits on fresh fakes G(z) (+ eps), those samples, and the gradient norms of the costs `kinds`
        (and at variance points their spread and relative variance over K batches, and their directions at
        z) there. At the start (iteration 0) each norm is the mean over those K batches: the curves' start
        point, read once; the directions are z's, as at every variance point."""
        if not kinds:  # a critic that measures no gradient of G (critic=linear)
            with torch.no_grad():
                samples = add_instance_noise(
                    self.generator(self.z(self.batch_size)), sigma, clip_sigmas=self.clip_sigmas, rng=rng
                )
                return FakeBatch(discriminator(samples).detach(), samples, {})
        z = self.z(self.batch_size)
        log_peaks, grads, fake_logits, samples = scaled_cost_gradients(
            self.generator,
            discriminator,
            z,
            kinds=kinds,
            batched=self.batched,
            sigma=sigma,
            clip_sigmas=self.clip_sigmas,
            rng=rng,
        )
        measured: dict[str, Any] = gradient_norms(log_peaks, grads, kinds)
        if not (with_variance or start):
            return FakeBatch(fake_logits, samples, measured)
        statistics = self.batch_statistics(discriminator, kinds, sigma, rng)
        for index, kind in enumerate(kinds):
            column = cost_column(kind)
            measured[column.replace("grad_norm", "grad_relvar")] = statistics["relvar"][index]
            measured[column.replace("grad_norm", "grad_spread")] = statistics["spread"][index]
            if start:
                measured[column] = statistics["mean_norm"][index]
        directions = CostDirections(self.generator, z, tuple(kinds), signed_directions(grads, kinds))
        return FakeBatch(fake_logits, samples, measured, directions)

    def batch_statistics(
        self, discriminator: nn.Module, kinds: Sequence[str | Objective], sigma: float, rng: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """batch_statistics over probe.variance_batches fresh z batches, D held fixed: (C,) per statistic."""
        vectors, peaks = [], []
        for _ in range(self.variance_batches):
            log_peaks, grads, _, _ = scaled_cost_gradients(
                self.generator,
                discriminator,
                self.z(self.batch_size),
                kinds=kinds,
                batched=self.batched,
                sigma=sigma,
                clip_sigmas=self.clip_sigmas,
                rng=rng,
            )
            vectors.append(torch.cat([g.double().reshape(len(kinds), -1) for g in grads], dim=1))
            peaks.append(log_peaks)
        return batch_statistics(torch.stack(vectors), torch.stack(peaks))


class RealImageSource:
    """The negative control's "generator": real images from a pool disjoint from D's real ones. No G, so no
    gradient columns; D may memorize its finite pool, but cannot tell held-out images apart."""

    def __init__(
        self,
        step_batches: Iterator[torch.Tensor],
        eval_batches: Iterator[torch.Tensor],
        dtype: torch.dtype,
        layout: torch.memory_format,
        clip_sigmas: float,
    ) -> None:
        self.step_batches, self.eval_batches, self.dtype, self.layout = (
            step_batches,
            eval_batches,
            dtype,
            layout,
        )
        self.clip_sigmas = clip_sigmas

    def step_fakes(self, count: int) -> torch.Tensor:
        """The next batch of the "fake" pool."""
        return next(self.step_batches).to(dtype=self.dtype, memory_format=self.layout)

    def measure(
        self,
        discriminator: nn.Module,
        kinds: Sequence[str | Objective],
        sigma: float,
        rng: torch.Generator,
        with_variance: bool,
        start: bool = False,
    ) -> FakeBatch:
        """D's logits on a fresh batch of the "fake" pool, and those samples; no gradient columns."""
        images = next(self.eval_batches).to(dtype=self.dtype, memory_format=self.layout)
        samples = add_instance_noise(images, sigma, clip_sigmas=self.clip_sigmas, rng=rng)
        with torch.no_grad():
            logits = discriminator(samples)
        return FakeBatch(logits.detach(), samples.detach(), {})


@dataclass
class ProbeStreams:
    """Every source of randomness of one probe unit, each with its own seed, so that two units that differ
    only in sigma share D's initial weights, data order, evaluation batches and z batches exactly."""

    step_real: Iterator[torch.Tensor]  # D's real training batches
    eval_real: Iterator[torch.Tensor]  # fresh real batches (the training split) for the logged evaluation
    heldout_real: Iterator[torch.Tensor]  # held-out real batches, never in a D step
    heldout_fake: Iterator[torch.Tensor] | None  # the control's held-out "fakes" (other held-out images)
    noise_rng: torch.Generator  # instance noise, on D's device
    penalty_rng: torch.Generator  # the gradient penalty's interpolation weights, on D's device


@dataclass
class DiscriminatorTraining:
    """One fresh D while it trains: D, its optimizer, the unit's data streams and the source of its fakes."""

    discriminator: nn.Module
    optimizer: torch.optim.Optimizer
    streams: ProbeStreams
    source: GeneratorSource | RealImageSource


@dataclass
class SnapshotProbe:
    """What probing one snapshot (or the control) needs: settings, architecture, data, and where rows go."""

    probe_cfg: DictConfig
    model_cfg: DictConfig
    dataset_cfg: DictConfig
    performance_cfg: DictConfig
    clip_sigmas: float
    seed: int
    num_workers: int  # DataLoader workers for on-disk datasets (train.num_workers)
    splits: DataSplits
    device: torch.device
    logger: CSVLogger
    control: RunControl
    progress: tqdm

    def written(self, rows: list[dict], snapshot: int) -> None:
        """Check the rows the logger just wrote for NaN/inf and show the newest in the progress bar."""
        self.control.check_rows(
            rows,
            finite_checked("probe.csv"),
            lambda row: (
                f"probe of snapshot {snapshot} (critic {row['critic']}), iteration {row['iteration']}"
            ),
        )
        if rows:
            accuracy = rows[-1]["d_accuracy_heldout"]  # None for a Wasserstein critic
            self.progress.set_postfix(
                snapshot=snapshot,
                critic=rows[-1]["critic"],
                d_loss=f"{rows[-1]['d_loss']:.2e}",
                heldout_accuracy="-" if accuracy is None else f"{accuracy:.3f}",
                refresh=False,
            )

    def fresh_discriminator(
        self, critic: Critic, dtype: torch.dtype
    ) -> tuple[nn.Module, torch.optim.Optimizer]:
        """D with the critic's architecture and the same initial weights for every snapshot, and the critic's
        optimizer (critic=gan: Adam as in training)."""
        torch.manual_seed(self.probe_cfg.init_seed)
        discriminator = build_discriminator(
            self.model_cfg,
            image_size=int(self.dataset_cfg.image_size),
            channels=int(self.dataset_cfg.channels),
            norm=critic.norm,
            architecture=critic.architecture,
        )

        discriminator = discriminator.to(
            self.device, dtype, memory_format=memory_format(self.performance_cfg)
        )
        return discriminator, make_optimizer(discriminator, critic)

    def batches(self, dataset: Dataset, seed: int) -> Iterator[torch.Tensor]:
        """Shuffled batches of dataset forever, in an order drawn from its own seed (batches no larger than a
        small held-out set: then every batch is the whole set)."""
        if len(dataset) == 0:
            raise ConfigError(
                "dataset.heldout_fraction",
                "leaves a split of the probe without images; use a larger dataset or heldout_fraction",
            )
        return infinite_batches(
            dataset,
            batch_size=min(self.probe_cfg.batch_size, len(dataset)),
            rng=torch.Generator().manual_seed(seed),
            device=self.device,
            num_workers=self.num_workers,
            bad_images=BadImagePolicy(self.dataset_cfg.get("bad_images")),
        )

    def streams(self, snapshot: int, control: bool) -> ProbeStreams:
        """The unit's data streams and noise RNG, each seeded from (seed, snapshot, stream)."""

        def base(stream: int) -> int:
            return derived_seed(self.seed, snapshot, stream)

        train = self.splits.control_pools[0] if control else self.splits.train  # D's real images
        heldout = self.splits.heldout
        if control:  # held-out images in two halves: one labelled real, one labelled fake
            heldout, heldout_fakes = self.splits.heldout_halves
        return ProbeStreams(
            step_real=self.batches(train, base(0)),
            eval_real=self.batches(train, base(1)),
            heldout_real=self.batches(heldout, base(2)),
            heldout_fake=self.batches(heldout_fakes, base(3)) if control else None,
            noise_rng=torch.Generator(self.device).manual_seed(base(4)),
            penalty_rng=torch.Generator(self.device).manual_seed(base(7)),
        )

    def source(
        self, generator: nn.Module | None, snapshot: int, dtype: torch.dtype
    ) -> GeneratorSource | RealImageSource:
        """Where the fakes come from: the frozen G, or (control) a pool of real images."""
        layout = memory_format(self.performance_cfg)
        if generator is None:
            pool = self.splits.control_pools[1]  # disjoint from D's real images
            return RealImageSource(
                self.batches(pool, derived_seed(self.seed, snapshot, 5)),
                self.batches(pool, derived_seed(self.seed, snapshot, 6)),
                dtype,
                layout,
                self.clip_sigmas,
            )
        generator = generator.to(
            dtype=dtype, memory_format=layout
        )  # layout only: the math stays fp32 (or fp64)
        requires_grad(generator, False)  # frozen: G has no optimizer, and no gradient is kept on it
        # G stays in train mode (BatchNorm on batch statistics), as when it was trained and as it would be
        # when these gradients were applied; its parameters never change.
        return GeneratorSource(
            generator,
            nz=int(self.model_cfg.nz),
            batch_size=self.probe_cfg.batch_size,
            dtype=dtype,
            device=self.device,
            batched=use_batched_backward(self.probe_cfg.batched_backward, self.device),
            clip_sigmas=self.clip_sigmas,
            variance_batches=self.probe_cfg.variance_batches,
        )

    def evaluate(
        self,
        critic: Critic,
        discriminator: nn.Module,
        streams: ProbeStreams,
        fakes: FakeBatch,
        sigma: float,
        dtype: torch.dtype,
        at_variance_point: bool,
    ) -> dict[str, torch.Tensor | float | None]:
        """D (after this iteration's step) on a fresh real batch and on a held-out one, each against the
        fresh fakes the gradient norms used (the control: against held-out "fakes"): the critic's cost and
        accuracy (float64), and at variance points the input-gradient norms at the real batch and the
        fakes, and the transport cosines, the fakes' partners drawn from that real batch (no extra draw:
        every random stream stays as it was)."""
        layout, rng = memory_format(self.performance_cfg), streams.noise_rng

        def noisy(batches: Iterator[torch.Tensor]) -> torch.Tensor:
            images = next(batches).to(dtype=dtype, memory_format=layout)
            return add_instance_noise(images, sigma, clip_sigmas=self.clip_sigmas, rng=rng)

        def logits(samples: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():  # (B,) logits
                return discriminator(samples)

        fake_logits, fake_samples = fakes.logits, fakes.samples
        real_samples = noisy(streams.eval_real)
        real, heldout = logits(real_samples).double(), logits(noisy(streams.heldout_real)).double()
        heldout_fake = (
            fake_logits.double()
            if streams.heldout_fake is None
            else logits(noisy(streams.heldout_fake)).double()
        )
        fake, objective = fake_logits.double(), critic.objective
        measured = {
            "d_loss": critic_loss(real, fake, objective),
            "d_accuracy": decision_accuracy(real, fake, objective),
            "d_loss_heldout": critic_loss(heldout, heldout_fake, objective),
            "d_accuracy_heldout": decision_accuracy(heldout, heldout_fake, objective),
        }
        if at_variance_point:  # sparse, as the variances: at every point they would cost the default
            measured["input_grad_norm_real"] = input_gradient_norm(discriminator, real_samples)  # run ~20%
            measured["input_grad_norm_fake"] = input_gradient_norm(
                discriminator, fake_samples
            )  # at paper scale
            if fakes.directions is not None:  # the partners: the real samples D saw, as the fakes are
                measured |= fakes.directions.transport_cosines(fake_samples, real_samples)
        return measured

    def start(
        self, generator: nn.Module | None, unit: ProbeUnit, dtype: torch.dtype
    ) -> DiscriminatorTraining:
        """The unit's fresh D and optimizer, its data streams and the source of its fakes, with the global RNG
        seeded for its z batches (from seed and snapshot): every critic of a snapshot sees the same ones."""
        discriminator, optimizer = self.fresh_discriminator(unit.critic, dtype)
        torch.manual_seed(derived_seed(self.seed, unit.snapshot, 8))  # the z batches, per snapshot
        streams = self.streams(unit.snapshot, control=generator is None)
        return DiscriminatorTraining(
            discriminator, optimizer, streams, self.source(generator, unit.snapshot, dtype)
        )

    def step(self, critic: Critic, training: DiscriminatorTraining, sigma: float, dtype: torch.dtype) -> None:
        """One D step: the next real batch of the training split against fresh fakes (critics.critic_step)."""
        real = next(training.streams.step_real).to(
            dtype=dtype, memory_format=memory_format(self.performance_cfg)
        )
        critic_step(
            critic,
            training.discriminator,
            training.optimizer,
            real,
            training.source.step_fakes(real.shape[0]),
            sigma=sigma,
            clip_sigmas=self.clip_sigmas,
            rng=training.streams.noise_rng,
            penalty_rng=training.streams.penalty_rng,
        )
        self.progress.update()

    def trained(
        self, generator: nn.Module, unit: ProbeUnit, stops: Sequence[int]
    ) -> Iterator[tuple[int, nn.Module]]:
        """The unit's critic trained from scratch against the frozen generator by run()'s protocol (the same
        initial weights, data order and seeds, the same steps), with no measurement: (t, D) after each of
        `stops` D steps (0: the fresh D). D goes on training when the next is asked for, so a caller keeps a
        copy, and must not draw from the global RNG in between (D's fakes come from it). Not bit-identical to
        probe.csv's D after t steps: run()'s measurements draw their z batches from the same stream."""
        dtype, iterations = PROBE_DTYPES[self.probe_cfg.dtype], unit.iterations
        training = self.start(generator, unit, dtype)
        for iteration in range(0, max(stops) + 1):
            if iteration > 0:
                self.step(unit.critic, training, unit.schedule.sigma(iteration - 1, iterations), dtype)
            if iteration in stops:
                yield iteration, training.discriminator
            if self.control.stop.requested:
                raise Interrupted(f"D training of snapshot {unit.snapshot}, iteration {iteration}")

    def run(self, generator: nn.Module | None, unit: ProbeUnit) -> None:
        """Train the unit's critic from scratch against the frozen generator (None: the control's real-image
        pool) for its iterations; at iteration 0 (before any step) and after the step of each logged
        iteration, measure that D (one D per row). Every critic of a snapshot sees the same data order,
        z batches and noise."""
        probe_cfg, dtype = self.probe_cfg, PROBE_DTYPES[self.probe_cfg.dtype]
        snapshot, critic = unit.snapshot, unit.critic
        training = self.start(generator, unit, dtype)
        discriminator, streams, source = training.discriminator, training.streams, training.source
        for iteration in range(0, unit.iterations + 1):  # 0: the fresh D, before its first step
            sigma = unit.schedule.sigma(max(iteration - 1, 0), unit.iterations)
            if iteration > 0:
                self.step(critic, training, sigma, dtype)
            with_variance = iteration % probe_cfg.variance_every == 0  # iteration 0 included
            if with_variance or iteration % probe_cfg.log_every == 0:
                fakes = source.measure(
                    discriminator,
                    critic.generator_costs,
                    sigma,
                    streams.noise_rng,
                    with_variance,
                    start=iteration == 0,
                )
                row = {
                    "snapshot_iteration": snapshot,
                    "snapshot_epoch": unit.epoch,
                    "iteration": iteration,
                    "noise_std": sigma,
                    "sweep_noise_std": unit.sweep_sigma,
                    "critic": critic.name,
                    **fakes.measured,
                    **self.evaluate(
                        critic, discriminator, streams, fakes, sigma, dtype, at_variance_point=with_variance
                    ),
                }
                self.written(self.logger.log(row), snapshot)
            if self.control.stop.requested:
                # this unit reruns from its start on resume (it is seeded)
                raise Interrupted(
                    f"probe of snapshot {snapshot} (critic {critic.name}), iteration {iteration}"
                )
        self.written(
            self.logger.flush(), snapshot
        )  # every row of this unit is on disk before it is marked done


def probe_noises(probe_cfg: DictConfig, noise_cfg: DictConfig) -> list[tuple[NoiseSchedule, float | None]]:
    """(schedule, swept sigma) per probe of a snapshot: the noise group's probe schedule, or one constant
    sigma per entry of probe.noise_stds (experiment=noise)."""
    if probe_cfg.get("noise_stds") is None:
        return [(stage_schedule(noise_cfg, "probe"), None)]
    return [(NoiseSchedule("constant", start=float(sigma)), float(sigma)) for sigma in probe_cfg.noise_stds]


@dataclass(frozen=True)
class ProbeUnit:
    """One fresh D: a snapshot (or the control), a noise schedule (a swept sigma) and a critic."""

    snapshot: int  # the frozen G's training steps (CONTROL_SNAPSHOT: the control)
    epoch: float  # ... over steps per epoch
    schedule: NoiseSchedule
    sweep_sigma: float | None
    critic: Critic
    iterations: int  # D iterations: the critic's own (critic.<name>.iterations), else probe.iterations

    @property
    def key(self) -> list[Any]:
        """How state.json's probe_units_done names this unit."""
        return [self.snapshot, self.sweep_sigma, self.critic.name]


def probe_length(probe_cfg: DictConfig, critic: Critic) -> int:
    """A critic's D iterations per snapshot: its own critic.<name>.iterations, else probe.iterations."""
    return critic.iterations or int(probe_cfg.iterations)


def probe_units(
    probe_cfg: DictConfig, noise_cfg: DictConfig, critic_cfg: DictConfig, snapshots: list[tuple[int, float]]
) -> list[ProbeUnit]:
    """Every unit of a probe, snapshot by snapshot (each G loaded once), then sigma, then critic."""
    noises, critics = probe_noises(probe_cfg, noise_cfg), probe_critics(critic_cfg)
    return [
        ProbeUnit(snapshot, epoch, schedule, sweep, critic, probe_length(probe_cfg, critic))
        for snapshot, epoch in snapshots
        for schedule, sweep in noises
        for critic in critics
    ]


def same_unit(rows, unit: ProbeUnit):
    """Rows of probe.csv that belong to this unit (snapshot, swept sigma, critic)."""
    sweep = rows["sweep_noise_std"]
    same_sweep = sweep.isna() if unit.sweep_sigma is None else sweep == unit.sweep_sigma
    return (rows["snapshot_iteration"] == unit.snapshot) & same_sweep & (rows["critic"] == unit.critic.name)


def keep_finished_units(path: Path, state: RunState, units: list[ProbeUnit]) -> None:
    """Resume: keep only the probe.csv rows of the probes that state marks done."""
    done = [unit for unit in units if state.unit_done(unit.key)]

    def finished(rows):
        mask = rows["iteration"] < 0  # all False
        for unit in done:
            mask |= same_unit(rows, unit)
        return mask

    dropped = keep_rows(path, finished)
    log.info(
        "probe: resuming; %d of %d probes done (dropped %d rows of an unfinished one)",
        len(done),
        len(units),
        dropped,
    )


def describe_unit(unit: ProbeUnit) -> str:
    """The log's words for a unit: which snapshot, critic and noise."""
    what = (
        "the negative control (real images as fakes)"
        if unit.snapshot == CONTROL_SNAPSHOT
        else f"G after {snapshot_words(unit.snapshot, unit.epoch)}"
    )
    return f"{what}, critic {unit.critic.name}, instance noise: {unit.schedule}"


def probe(
    probe_cfg: DictConfig,
    *,
    critic_cfg: DictConfig,
    model_cfg: DictConfig,
    dataset_cfg: DictConfig,
    noise_cfg: DictConfig,
    performance_cfg: DictConfig,
    seed: int,
    num_workers: int,
    snapshots: list[Snapshot],
    splits: DataSplits,
    run_dir: Path,
    device: torch.device,
    state: RunState | None = None,
    control: RunControl | None = None,
) -> Path:
    """Probe every snapshot with every critic (and every swept sigma), and with probe.control the negative
    control, skipping the units `state` marks done; returns probe.csv."""
    path, control = Path(run_dir) / "probe.csv", control or RunControl()
    probed = [(s.iteration, s.epoch) for s in snapshots] + (
        [(CONTROL_SNAPSHOT, 0.0)] if probe_cfg.control else []
    )
    units = probe_units(probe_cfg, noise_cfg, critic_cfg, probed)
    paths = {s.iteration: s.path for s in snapshots}
    if state is not None and path.exists():  # even before the first probe is done: its rows are dropped
        keep_finished_units(path, state, units)
    progress = control.progress(sum(unit.iterations for unit in units), desc="probe")
    loaded: dict[int, nn.Module] = {}
    with (
        exact_float_math(device),
        CSVLogger(
            path, columns_of("probe.csv"), buffer_rows=performance_cfg.log_buffer, mirror=control.mirror
        ) as logger,
    ):
        snapshot_probe = SnapshotProbe(
            probe_cfg,
            model_cfg,
            dataset_cfg,
            performance_cfg,
            float(noise_cfg.clip_sigmas),
            seed,
            num_workers,
            splits,
            device,
            logger,
            control,
            progress,
        )
        for unit in units:
            if state is not None and state.unit_done(unit.key):
                progress.update(unit.iterations)
                continue
            if unit.snapshot != CONTROL_SNAPSHOT and unit.snapshot not in loaded:
                loaded = {
                    unit.snapshot: load_generator(paths[unit.snapshot], model_cfg, dataset_cfg, device=device)
                }
            log.info("probe: %s, %d D iterations", describe_unit(unit), unit.iterations)
            snapshot_probe.run(loaded.get(unit.snapshot), unit)
            if state is not None:
                state.probe_units_done.append(unit.key)
                state.save()
    progress.close()
    return path
