"""Stage 1: train a DCGAN as Radford et al. do, saving G (and D, optimizers) at the snapshot epochs."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gan_repro.data import batches_per_epoch, iterate_epoch, sample_images
from gan_repro.distances import exact_wasserstein, sliced_wasserstein
from gan_repro.errors import ConfigError
from gan_repro.files import save_image_grid, save_torch
from gan_repro.logger import CSVLogger
from gan_repro.losses import discriminator_accuracy, discriminator_loss, generator_loss
from gan_repro.models import build_discriminator, build_generator
from gan_repro.noise import add_instance_noise, stage_schedule

log = logging.getLogger(__name__)

TRAIN_COLUMNS = ["epoch", "iteration", "d_loss", "g_loss", "d_accuracy", "noise_std"]
SNAPSHOT_COLUMNS = ["epoch", "iteration", "noise_std", "sliced_wasserstein", "wasserstein_exact", "dimension",
                    "clip_sigmas"]


def make_adam(model: nn.Module, optimizer_cfg: DictConfig) -> torch.optim.Adam:
    """Adam with DCGAN's settings, read from a node holding lr, beta1, beta2."""
    return torch.optim.Adam(model.parameters(), lr=optimizer_cfg.lr, betas=(optimizer_cfg.beta1, optimizer_cfg.beta2))


def sample_noise(count: int, nz: int, *, device: torch.device, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(0, I), shape (count, nz)."""
    return torch.randn(count, nz, device=device, dtype=dtype, generator=generator)


def discriminator_step(discriminator: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor, *, noise_std: float = 0.0, clip_sigmas: float = 4.0) -> dict[str, torch.Tensor]:
    """One Adam step on D's cost, instance noise on both inputs; returns the cost and accuracy before the step."""
    # real and fake in separate calls, as in DCGAN (BatchNorm statistics); (B,) logits each
    real_logits = discriminator(add_instance_noise(real, noise_std, clip_sigmas=clip_sigmas))
    fake_logits = discriminator(add_instance_noise(fake.detach(), noise_std, clip_sigmas=clip_sigmas))
    loss = discriminator_loss(real_logits, fake_logits)  # Eq. (1), negated: D maximizes log D(x) + log(1 - D(G(z)))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    real_logits, fake_logits = real_logits.detach().double(), fake_logits.detach().double()
    return {
        "d_loss": discriminator_loss(real_logits, fake_logits),  # float64 so a cost of 1e-40 stays 1e-40
        "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
    }


def generator_step(discriminator: nn.Module, optimizer: torch.optim.Optimizer, fake: torch.Tensor,
                   kind: str, *, noise_std: float = 0.0, clip_sigmas: float = 4.0) -> dict[str, torch.Tensor]:
    """One Adam step on G's cost through D(G(z) + eps) (fake must carry G's graph); returns the cost."""
    loss = generator_loss(discriminator(add_instance_noise(fake, noise_std, clip_sigmas=clip_sigmas)), kind)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"g_loss": loss.detach()}


def model_signature(cfg: DictConfig) -> dict:
    """What a checkpoint's weights depend on: checked when the checkpoint is loaded."""
    return {"model": OmegaConf.to_container(cfg.model, resolve=True),
            "image_size": int(cfg.dataset.image_size), "channels": int(cfg.dataset.channels)}


def measure_distances(generator: nn.Module, dataset: Dataset, distance_cfg: DictConfig, *, nz: int,
                      device: torch.device, seed: int) -> dict[str, float]:
    """Sliced and exact W1 between real and generated images (pixel space), from their own RNG."""
    rng = torch.Generator().manual_seed(seed)
    count = min(int(distance_cfg.samples), len(dataset))
    real = sample_images(dataset, count, generator=rng)
    with torch.no_grad():
        fake = torch.cat([generator(sample_noise(len(chunk), nz, device=torch.device("cpu"), generator=rng).to(device))
                          for chunk in torch.arange(count).split(250)]).cpu()
    exact_count = min(int(distance_cfg.exact_samples), count)
    return {"sliced_wasserstein": sliced_wasserstein(real, fake, projections=int(distance_cfg.projections),
                                                     generator=rng),
            "wasserstein_exact": exact_wasserstein(real[:exact_count], fake[:exact_count]),
            "dimension": real[0].numel()}


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    """Where the snapshot after `epoch` lives."""
    return Path(run_dir) / "checkpoints" / f"epoch_{epoch:03d}.pt"


def train(cfg: DictConfig, *, dataset: Dataset, run_dir: Path, device: torch.device) -> dict[int, Path]:
    """Train G and D for cfg.train.epochs; returns {snapshot epoch: checkpoint path}."""
    train_cfg, image_size, channels = cfg.train, int(cfg.dataset.image_size), int(cfg.dataset.channels)
    if batches_per_epoch(dataset, train_cfg.batch_size) == 0:
        raise ConfigError("train.batch_size", f"{train_cfg.batch_size} is larger than the dataset "
                          f"({len(dataset)} images); lower train.batch_size")

    # Models and optimizers (DCGAN: Adam 2e-4, betas (0.5, 0.999) for both).
    generator = build_generator(cfg.model, image_size=image_size, channels=channels).to(device)
    discriminator = build_discriminator(cfg.model, image_size=image_size, channels=channels).to(device)
    optimizer_g, optimizer_d = make_adam(generator, train_cfg), make_adam(discriminator, train_cfg)

    # A fixed noise batch, so every snapshot's samples show the same z.
    fixed_noise = sample_noise(train_cfg.sample_count, cfg.model.nz, device=device,
                               generator=torch.Generator(device).manual_seed(cfg.seed))
    data_order = torch.Generator().manual_seed(cfg.seed)
    snapshots = sorted(int(epoch) for epoch in train_cfg.snapshot_epochs)
    checkpoints: dict[int, Path] = {}
    steps_per_epoch = batches_per_epoch(dataset, train_cfg.batch_size)
    log.info("train: %d images, %d epochs of %d iterations, snapshots after epochs %s",
             len(dataset), train_cfg.epochs, steps_per_epoch, snapshots)

    noise = stage_schedule(cfg.noise, "train")  # sigma per iteration, Section 3 (none: always 0)
    clip_sigmas = float(cfg.noise.clip_sigmas)
    total_iterations = train_cfg.epochs * steps_per_epoch
    iteration = 0
    progress = tqdm(total=train_cfg.epochs * steps_per_epoch, desc="train", unit="it", disable=cfg.quiet,
                    dynamic_ncols=True, mininterval=1.0)
    with CSVLogger(Path(run_dir) / "train.csv", TRAIN_COLUMNS) as logger, \
            CSVLogger(Path(run_dir) / "snapshots.csv", SNAPSHOT_COLUMNS) as snapshot_logger:
        for epoch in range(1, train_cfg.epochs + 1):
            for real in iterate_epoch(dataset, batch_size=train_cfg.batch_size, generator=data_order,
                                      device=device, num_workers=train_cfg.num_workers):
                iteration += 1
                noise_std = noise.std(iteration - 1, total_iterations)
                fake = generator(sample_noise(real.shape[0], cfg.model.nz, device=device))  # one G forward, reused
                metrics = discriminator_step(discriminator, optimizer_d, real, fake, noise_std=noise_std,
                                             clip_sigmas=clip_sigmas)
                metrics |= generator_step(discriminator, optimizer_g, fake, cfg.loss.name, noise_std=noise_std,
                                          clip_sigmas=clip_sigmas)
                metrics["noise_std"] = noise_std
                if iteration % train_cfg.log_every == 0:
                    row = logger.log({"epoch": epoch, "iteration": iteration, **metrics})
                    progress.set_postfix(d_loss=f"{row['d_loss']:.3g}", g_loss=f"{row['g_loss']:.3g}", refresh=False)
                progress.update()

            if epoch in snapshots:  # step: snapshot G, D and both optimizers, plus a sample grid
                checkpoints[epoch] = save_torch(checkpoint_path(run_dir, epoch), {
                    "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                    "optimizer_g": optimizer_g.state_dict(), "optimizer_d": optimizer_d.state_dict(),
                    "epoch": epoch, "iteration": iteration, "signature": model_signature(cfg)})
                with torch.no_grad():
                    samples = generator(fixed_noise)
                save_image_grid(Path(run_dir) / "samples" / f"epoch_{epoch:03d}.png", samples)
                distances = measure_distances(generator, dataset, cfg.distance, nz=cfg.model.nz, device=device,
                                              seed=cfg.seed + epoch)
                snapshot_logger.log({"epoch": epoch, "iteration": iteration, "noise_std": noise_std,
                                     "clip_sigmas": clip_sigmas, **distances})
                log.info("train: epoch %d, iteration %d: saved %s; sliced W1 %.3f, exact W1 %.3f", epoch, iteration,
                         checkpoints[epoch].name, distances["sliced_wasserstein"], distances["wasserstein_exact"])
    progress.close()
    return checkpoints
