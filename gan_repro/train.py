"""Stage 1: train a DCGAN as Radford et al. do, saving G (and D, optimizers) at the snapshots (after
epochs or after G steps)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm.auto import tqdm  # the type of EpochLoop.progress

from gan_repro.checkpoints import (
    checkpoint_path,
    last_state_path,
    load_checkpoint,
    model_signature,
    samples_path,
    save_checkpoint,
    snapshot_iterations,
)
from gan_repro.columns import columns_of, finite_checked
from gan_repro.data import BadImagePolicy, batches_per_epoch, epoch_order, iterate_epoch, sample_images
from gan_repro.distances import exact_wasserstein, sliced_wasserstein
from gan_repro.errors import ConfigError
from gan_repro.files import save_image_grid
from gan_repro.logger import CSVLogger
from gan_repro.models import build_discriminator, build_generator
from gan_repro.noise import NoiseSchedule, stage_schedule
from gan_repro.runstate import Interrupted, RunControl, keep_rows
from gan_repro.snapshot_names import snapshot_words
from gan_repro.steps import (
    compiled,
    derived_seed,
    discriminator_step,
    generator_step,
    make_adam,
    memory_format,
    mixed_precision,
    sample_z,
)

log = logging.getLogger(__name__)


@dataclass
class GAN:
    """G, D and their optimizers (the originals hold the weights; `step_*` run the steps, compiled or not)."""

    generator: nn.Module
    discriminator: nn.Module
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    step_generator: nn.Module
    step_discriminator: nn.Module

    def weights(self) -> dict[str, Any]:
        """The state dicts a checkpoint holds."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the weights and optimizer states of a checkpoint."""
        for name in ("generator", "discriminator", "optimizer_g", "optimizer_d"):
            getattr(self, name).load_state_dict(state[name])


@dataclass
class Position:
    """Where training is: the epoch, full batches done in it, iterations done in all."""

    epoch: int = 1
    batches_done: int = 0
    iteration: int = 0


def build_gan(
    model_cfg: DictConfig,
    dataset_cfg: DictConfig,
    train_cfg: DictConfig,
    performance_cfg: DictConfig,
    device: torch.device,
) -> GAN:
    """Models and optimizers (DCGAN: Adam 2e-4, betas (0.5, 0.999) for both), laid out and compiled as
    performance_cfg says."""
    layout = memory_format(performance_cfg)
    image_size, channels = int(dataset_cfg.image_size), int(dataset_cfg.channels)
    generator = build_generator(model_cfg, image_size=image_size, channels=channels).to(
        device, memory_format=layout
    )
    discriminator = build_discriminator(model_cfg, image_size=image_size, channels=channels).to(
        device, memory_format=layout
    )
    optimizer_g, optimizer_d = make_adam(generator, train_cfg), make_adam(discriminator, train_cfg)
    return GAN(
        generator,
        discriminator,
        optimizer_g,
        optimizer_d,
        compiled(generator, performance_cfg),
        compiled(discriminator, performance_cfg),
    )


def real_real_wasserstein(dataset: Dataset, count: int, *, rng: torch.Generator) -> tuple[float, int]:
    """Exact W1 between two disjoint real samples of `count` images each, and that count: the estimator's
    floor, what the exact W1 of `count` samples reads when P_g = P_r. With fewer than 2 * count readable
    images, the largest equal halves of the dataset."""
    pool = sample_images(dataset, min(2 * count, len(dataset)), rng=rng)  # distinct images: halves disjoint
    half = min(count, pool.shape[0] // 2)
    return exact_wasserstein(pool[:half], pool[half : 2 * half]), half


def measure_distances(
    generator: nn.Module,
    dataset: Dataset,
    distance_cfg: DictConfig,
    *,
    nz: int,
    device: torch.device,
    seed: int,
) -> dict[str, float]:
    """Sliced and exact W1 between real and generated images (pixel space), and the exact W1 between two
    disjoint real samples of the same size (the floor), all from their own RNG."""
    rng = torch.Generator().manual_seed(seed)
    count = min(int(distance_cfg.samples), len(dataset))
    real = sample_images(dataset, count, rng=rng)
    count = real.shape[0]  # fewer when unreadable images were left out
    with torch.no_grad():
        fake = torch.cat(
            [
                generator(sample_z(len(chunk), nz, device=torch.device("cpu"), rng=rng).to(device))
                for chunk in torch.arange(count).split(250)
            ]
        ).cpu()
    exact_count = min(int(distance_cfg.exact_samples), count)
    if count < int(distance_cfg.samples) or exact_count < int(distance_cfg.exact_samples):
        log.warning(
            "train: distances from %d images of each kind (sliced) and %d (exact), not distance.samples=%d "
            "and distance.exact_samples=%d: the dataset has %d readable images",
            count, exact_count, distance_cfg.samples, distance_cfg.exact_samples, count,
        )  # fmt: skip
    sliced = sliced_wasserstein(real, fake, projections=int(distance_cfg.projections), rng=rng)
    # The real-real floor draws from rng last, so the draws above (and their distances) are as before it.
    floor, floor_count = real_real_wasserstein(dataset, exact_count, rng=rng)
    return {
        "sliced_wasserstein": sliced,
        "wasserstein_exact": exact_wasserstein(real[:exact_count], fake[:exact_count]),
        "dimension": real[0].numel(),
        "distance_samples": count,  # images of each kind the sliced W1 used (fewer than asked on small data)
        "exact_samples": exact_count,  # images of each kind the exact W1 used
        "wasserstein_exact_real_real": floor,  # two disjoint real samples: the exact W1's finite-sample floor
        "exact_samples_real_real": floor_count,  # images in each (exact_samples, or half a small dataset)
    }


def resume(
    gan: GAN,
    run_dir: Path,
    signature: dict,
    *,
    device: torch.device,
    data_order: torch.Generator,
    steps_per_epoch: int,
) -> Position:
    """Restore checkpoints/last.pt (if any) into gan and the RNGs; drop CSV rows written after it."""
    path = last_state_path(run_dir)
    if not path.is_file():  # killed before the first saved state: no row written so far survives
        dropped = keep_rows(run_dir / "train.csv", lambda rows: rows["iteration"] <= 0)
        keep_rows(run_dir / "snapshots.csv", lambda rows: rows["iteration"] <= 0)
        if dropped:
            log.info("train: no saved state yet; starting again (dropped %d rows)", dropped)
        return Position()
    saved = load_checkpoint(
        path,
        signature,
        setting="resume",
        needs=("generator", "epoch", "torch_rng"),
        advice="use a new hydra.run.dir, or rerun the run's own command",
    )
    gan.load(saved)
    position = Position(saved["epoch"], saved["batches_done"], saved["iteration"])
    torch.set_rng_state(saved["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in saved:
        torch.cuda.set_rng_state(saved["cuda_rng"], device)
    # A state saved after the epoch's last batch but before its end (a stop, or checkpoint_every landing
    # there) still owes the epoch's end: redo it from the state before its order was drawn.
    epoch_done = position.batches_done == steps_per_epoch and saved.get("epoch_done", True)
    data_order.set_state(saved["data_order_state"] if epoch_done else saved["order_state"])
    if epoch_done:
        position.epoch, position.batches_done = position.epoch + 1, 0
    dropped = keep_rows(run_dir / "train.csv", lambda rows: rows["iteration"] <= position.iteration)
    # Every save comes after its iteration's snapshot, so a snapshot row at this iteration is kept.
    keep_rows(run_dir / "snapshots.csv", lambda rows: rows["iteration"] <= position.iteration)
    log.info(
        "train: resuming at epoch %d, iteration %d (dropped %d rows written after the saved state)",
        position.epoch,
        position.iteration,
        dropped,
    )
    return position


def save_state(
    gan: GAN,
    run_dir: Path,
    signature: dict,
    position: Position,
    *,
    order_state: torch.Tensor,
    data_order: torch.Generator,
    device: torch.device,
    epoch_done: bool = False,
) -> None:
    """checkpoints/last.pt: everything needed to continue exactly from here (epoch_done: after the
    epoch's end, not merely after its last batch)."""
    state = {
        "epoch_done": epoch_done,
        **gan.weights(),
        "epoch": position.epoch,
        "batches_done": position.batches_done,
        "iteration": position.iteration,
        "order_state": order_state,
        "data_order_state": data_order.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    save_checkpoint(last_state_path(run_dir), state, signature)


def checked_batches_per_epoch(dataset: Dataset, batch_size: int) -> int:
    """Full batches per epoch, or a ConfigError when the batch is larger than the dataset."""
    steps = batches_per_epoch(dataset, batch_size)
    if steps == 0:
        raise ConfigError(
            "train.batch_size",
            f"{batch_size} is larger than the dataset ({len(dataset)} images); lower train.batch_size",
        )
    return steps


def train(
    train_cfg: DictConfig,
    *,
    model_cfg: DictConfig,
    dataset_cfg: DictConfig,
    loss_cfg: DictConfig,
    noise_cfg: DictConfig,
    distance_cfg: DictConfig,
    performance_cfg: DictConfig,
    seed: int,
    dataset: Dataset,
    run_dir: Path,
    device: torch.device,
    control: RunControl | None = None,
) -> list[int]:
    """Train G and D for train_cfg.epochs, continuing from checkpoints/last.pt if there is one.

    Returns the snapshots' G steps. Raises Interrupted after saving when a stop is requested."""
    run_dir, control = Path(run_dir), control or RunControl()
    steps_per_epoch = checked_batches_per_epoch(dataset, train_cfg.batch_size)
    snapshots = snapshot_iterations(train_cfg, steps_per_epoch)  # refused here, before any work

    # Step 1: models, a fixed z batch (every snapshot's samples show the same z), the data order's own RNG.
    torch.backends.cudnn.benchmark = bool(performance_cfg.cudnn_benchmark)
    gan = build_gan(model_cfg, dataset_cfg, train_cfg, performance_cfg, device)
    fixed_z = sample_z(
        train_cfg.sample_count, model_cfg.nz, device=device, rng=torch.Generator(device).manual_seed(seed)
    )
    data_order = torch.Generator().manual_seed(seed)
    signature = model_signature(model_cfg, dataset_cfg)

    # Step 2: resume (restore every state, drop CSV rows written after it: a kill can land anywhere).
    position = resume(
        gan, run_dir, signature, device=device, data_order=data_order, steps_per_epoch=steps_per_epoch
    )
    log.info(
        "train: %d images, %d epochs of %d iterations, snapshots after G steps %s",
        len(dataset),
        train_cfg.epochs,
        steps_per_epoch,
        snapshots,
    )

    # Step 3: the epochs, each followed by a resumable state; a snapshot after each of its G steps.
    loop = EpochLoop(
        gan=gan,
        train_cfg=train_cfg,
        nz=int(model_cfg.nz),
        loss_name=loss_cfg.name,
        performance_cfg=performance_cfg,
        schedule=stage_schedule(noise_cfg, "train"),
        clip_sigmas=float(noise_cfg.clip_sigmas),
        steps_per_epoch=steps_per_epoch,
        device=device,
        control=control,
        run_dir=run_dir,
        signature=signature,
        data_order=data_order,
        bad_images=BadImagePolicy(dataset_cfg.get("bad_images")),
        snapshots=frozenset(snapshots),
        fixed_z=fixed_z,
        distance_cfg=distance_cfg,
        seed=seed,
        progress=control.progress(
            train_cfg.epochs * steps_per_epoch, desc="train", initial=position.iteration
        ),
    )
    with (
        CSVLogger(
            run_dir / "train.csv",
            columns_of("train.csv"),
            buffer_rows=performance_cfg.log_buffer,
            mirror=control.mirror,
        ) as logger,
        CSVLogger(
            run_dir / "snapshots.csv", columns_of("snapshots.csv"), mirror=control.mirror
        ) as snapshot_logger,
    ):
        for epoch in range(position.epoch, train_cfg.epochs + 1):
            position.epoch = epoch
            order_state = data_order.get_state()  # this epoch's order can be drawn again on resume
            loop.run_epoch(dataset, position, logger, snapshot_logger, order_state)
            loop.end_epoch(position, order_state)
    loop.progress.close()
    check_snapshots_taken(run_dir, snapshots)
    return snapshots


def check_snapshots_taken(run_dir: Path, snapshots: list[int]) -> None:
    """Every snapshot's checkpoint exists: with dataset.bad_images=skip, a batch of unreadable images is
    no G step, so training can end short of an epoch snapshot's G steps."""
    missing = [iteration for iteration in snapshots if not checkpoint_path(run_dir, iteration).is_file()]
    if missing:
        raise ConfigError(
            "dataset.bad_images",
            f"training ended without the snapshots after G steps {missing} (skipped batches of unreadable "
            "images are no G steps); list G steps in train.snapshot_iterations, or fix the images",
        )


@dataclass
class EpochLoop:
    """The iterations of an epoch: a G forward, a D step and a G step per batch; rows logged, states saved."""

    gan: GAN
    train_cfg: DictConfig
    nz: int
    loss_name: str  # the generator cost while training: nonsaturating or minimax
    performance_cfg: DictConfig
    schedule: NoiseSchedule  # sigma per iteration (Section 3)
    clip_sigmas: float
    steps_per_epoch: int
    device: torch.device
    control: RunControl
    progress: tqdm
    run_dir: Path
    signature: dict
    data_order: torch.Generator
    bad_images: BadImagePolicy
    snapshots: frozenset[int]  # the G steps after which G is snapshotted
    fixed_z: torch.Tensor  # (sample_count, nz): every snapshot's sample grid shows the same z
    distance_cfg: DictConfig
    seed: int

    def written(self, rows: list[dict]) -> None:
        """Check the rows the logger just wrote for NaN/inf and show the newest in the progress bar."""
        self.control.check_rows(
            rows, finite_checked("train.csv"), lambda row: f"train iteration {row['iteration']}"
        )
        if rows:
            self.progress.set_postfix(
                d_loss=f"{rows[-1]['d_loss']:.3g}", g_loss=f"{rows[-1]['g_loss']:.3g}", refresh=False
            )

    def snapshot(self, position: Position, sigma: float, dataset: Dataset, logger: CSVLogger) -> None:
        """Snapshot G, D and both optimizers; the sample grid of fixed_z; a snapshots.csv row of distances."""
        iteration, run_dir, generator = position.iteration, self.run_dir, self.gan.generator
        epoch = iteration / self.steps_per_epoch  # 11.1: inside epoch 12
        save_checkpoint(
            checkpoint_path(run_dir, iteration),
            {**self.gan.weights(), "epoch": position.epoch, "iteration": iteration},
            self.signature,
        )
        # G stays in train mode (batch statistics), but its forwards here would move BatchNorm's running
        # statistics: keep them, so that no checkpoint depends on which other snapshots were taken.
        buffers = {name: buffer.clone() for name, buffer in generator.named_buffers()}
        with torch.no_grad():
            samples = generator(self.fixed_z)  # (sample_count, C, H, W)
        save_image_grid(samples_path(run_dir, iteration), samples, label=snapshot_words(iteration, epoch))
        distances = measure_distances(
            generator,
            dataset,
            self.distance_cfg,
            nz=self.nz,
            device=self.device,
            seed=derived_seed(self.seed, iteration, 9),  # streams 0-8: the probe's (probe.py)
        )
        with torch.no_grad():
            for name, buffer in generator.named_buffers():
                buffer.copy_(buffers[name])
        logger.log(
            {
                "iteration": iteration,
                "epoch": epoch,
                "noise_std": sigma,
                "clip_sigmas": self.clip_sigmas,
                **distances,
            }
        )
        log.info(
            "train: %s: saved %s; sliced W1 %.3f, exact W1 %.3f",
            snapshot_words(iteration, epoch),
            checkpoint_path(run_dir, iteration).name,
            distances["sliced_wasserstein"],
            distances["wasserstein_exact"],
        )

    def end_epoch(self, position: Position, order_state: torch.Tensor) -> None:
        """Report skipped images, and save the completed epoch's state."""
        if self.bad_images.skipped:
            log.warning(
                "train: skipped %d unreadable images so far (dataset.bad_images=skip)",
                self.bad_images.skipped,
            )
        position.batches_done = self.steps_per_epoch
        self.save(position, order_state, epoch_done=True)
        position.batches_done = 0

    def save(self, position: Position, order_state: torch.Tensor, *, epoch_done: bool = False) -> None:
        """checkpoints/last.pt at this position (order_state redraws the current epoch's order)."""
        save_state(
            self.gan,
            self.run_dir,
            self.signature,
            position,
            order_state=order_state,
            data_order=self.data_order,
            device=self.device,
            epoch_done=epoch_done,
        )

    def step(self, real: torch.Tensor, sigma: float) -> dict[str, Any]:
        """One iteration: one G forward, reused by the D step and the G step; returns their metrics."""
        gan = self.gan
        real = real.contiguous(memory_format=memory_format(self.performance_cfg))  # (B, C, H, W), NHWC if set
        with mixed_precision(self.performance_cfg, self.device):
            fake = gan.step_generator(sample_z(real.shape[0], self.nz, device=self.device))
            metrics = discriminator_step(
                gan.step_discriminator, gan.optimizer_d, real, fake, sigma=sigma, clip_sigmas=self.clip_sigmas
            )
            metrics |= generator_step(
                gan.step_discriminator,
                gan.optimizer_g,
                fake,
                self.loss_name,
                sigma=sigma,
                clip_sigmas=self.clip_sigmas,
            )
        return metrics

    def run_epoch(
        self,
        dataset: Dataset,
        position: Position,
        logger: CSVLogger,
        snapshot_logger: CSVLogger,
        order_state: torch.Tensor,
    ) -> None:
        """The epoch's batches from position on (its order drawn from data_order), a snapshot after each
        G step that is one (before any state is saved, so a saved state holds every snapshot up to it)."""
        total = self.train_cfg.epochs * self.steps_per_epoch
        order = epoch_order(dataset, self.data_order)
        for real in iterate_epoch(
            dataset,
            order,
            batch_size=self.train_cfg.batch_size,
            device=self.device,
            start_batch=position.batches_done,
            num_workers=self.train_cfg.num_workers,
            bad_images=self.bad_images,
        ):
            position.iteration += 1
            position.batches_done += 1
            sigma = self.schedule.sigma(position.iteration - 1, total)
            metrics = self.step(real, sigma)
            metrics["noise_std"] = sigma
            if position.iteration % self.train_cfg.log_every == 0:  # buffered: written every log_buffer rows
                self.written(
                    logger.log({"epoch": position.epoch, "iteration": position.iteration, **metrics})
                )
            self.progress.update()
            if position.iteration in self.snapshots:
                self.snapshot(position, sigma, dataset, snapshot_logger)
            if self.control.stop.requested:  # save exactly here, then stop
                self.written(logger.flush())
                self.save(position, order_state)
                raise Interrupted(f"train iteration {position.iteration} (epoch {position.epoch})")
            every = self.train_cfg.checkpoint_every
            if every and position.iteration % every == 0:
                self.written(logger.flush())  # the CSV holds every row up to the saved state
                self.save(position, order_state)
        self.written(logger.flush())
