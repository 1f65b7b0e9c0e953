"""Stage 1: train a DCGAN as Radford et al. do, saving G (and D, optimizers) at the snapshot epochs."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gan_repro.data import BadImagePolicy, batches_per_epoch, epoch_order, iterate_epoch, sample_images
from gan_repro.distances import exact_wasserstein, sliced_wasserstein
from gan_repro.errors import ConfigError
from gan_repro.files import save_image_grid, save_torch
from gan_repro.logger import CSVLogger
from gan_repro.losses import at_least_float32, discriminator_accuracy, discriminator_loss, generator_loss
from gan_repro.models import build_discriminator, build_generator
from gan_repro.noise import add_instance_noise, stage_schedule
from gan_repro.runstate import Interrupted, StopFlag, check_finite, keep_rows

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
    real_logits = at_least_float32(discriminator(add_instance_noise(real, noise_std, clip_sigmas=clip_sigmas)))
    fake_logits = at_least_float32(discriminator(add_instance_noise(fake.detach(), noise_std, clip_sigmas=clip_sigmas)))
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
    loss = generator_loss(at_least_float32(discriminator(add_instance_noise(fake, noise_std, clip_sigmas=clip_sigmas))),
                          kind)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"g_loss": loss.detach()}


def memory_format(performance_cfg: DictConfig) -> torch.memory_format:
    """channels_last (NHWC) when performance.channels_last is set, else the default layout."""
    return torch.channels_last if performance_cfg.channels_last else torch.contiguous_format


def mixed_precision(performance_cfg: DictConfig, device: torch.device) -> torch.autocast:
    """bf16 autocast for the training stage's forward passes when performance.autocast is bf16, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=performance_cfg.autocast == "bf16")


def compiled(model: nn.Module, performance_cfg: DictConfig) -> nn.Module:
    """torch.compile(model) when performance.compile is set (state_dict stays on the original model)."""
    return torch.compile(model, mode=performance_cfg.compile_mode) if performance_cfg.compile else model


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
    count = real.shape[0]  # fewer when unreadable images were left out
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


def last_state_path(run_dir: Path) -> Path:
    """The newest resumable training state (every epoch end, every checkpoint_every iterations, on a stop)."""
    return Path(run_dir) / "checkpoints" / "last.pt"


def snapshot_paths(cfg: DictConfig, run_dir: Path) -> dict[int, Path]:
    """{snapshot epoch: checkpoint path} for a finished training stage."""
    return {int(epoch): checkpoint_path(run_dir, int(epoch)) for epoch in sorted(cfg.train.snapshot_epochs)}


def train(cfg: DictConfig, *, dataset: Dataset, run_dir: Path, device: torch.device,
          stop: StopFlag | None = None) -> dict[int, Path]:
    """Train G and D for cfg.train.epochs, continuing from checkpoints/last.pt if there is one.

    Returns {snapshot epoch: checkpoint path}. Raises Interrupted after saving when `stop` is requested."""
    train_cfg, image_size, channels = cfg.train, int(cfg.dataset.image_size), int(cfg.dataset.channels)
    run_dir, stop = Path(run_dir), stop or StopFlag()
    steps_per_epoch = batches_per_epoch(dataset, train_cfg.batch_size)
    if steps_per_epoch == 0:
        raise ConfigError("train.batch_size", f"{train_cfg.batch_size} is larger than the dataset "
                          f"({len(dataset)} images); lower train.batch_size")

    # Models and optimizers (DCGAN: Adam 2e-4, betas (0.5, 0.999) for both), laid out and compiled as
    # cfg.performance says; the compiled wrappers run the steps, the originals hold the weights.
    performance, layout = cfg.performance, memory_format(cfg.performance)
    torch.backends.cudnn.benchmark = bool(performance.cudnn_benchmark)
    generator = build_generator(cfg.model, image_size=image_size, channels=channels).to(device, memory_format=layout)
    discriminator = build_discriminator(cfg.model, image_size=image_size, channels=channels).to(
        device, memory_format=layout)
    optimizer_g, optimizer_d = make_adam(generator, train_cfg), make_adam(discriminator, train_cfg)
    step_generator, step_discriminator = compiled(generator, performance), compiled(discriminator, performance)

    # A fixed noise batch, so every snapshot's samples show the same z; the data order has its own RNG.
    fixed_noise = sample_noise(train_cfg.sample_count, cfg.model.nz, device=device,
                               generator=torch.Generator(device).manual_seed(cfg.seed))
    data_order = torch.Generator().manual_seed(cfg.seed)
    snapshots = sorted(int(epoch) for epoch in train_cfg.snapshot_epochs)
    noise = stage_schedule(cfg.noise, "train")  # sigma per iteration, Section 3 (none: always 0)
    clip_sigmas = float(cfg.noise.clip_sigmas)
    total_iterations = train_cfg.epochs * steps_per_epoch
    bad_images = BadImagePolicy(cfg.dataset.get("bad_images", "stop"))

    # Resume: restore every state and drop CSV rows written after it (a kill can land anywhere).
    start_epoch, batches_done, iteration = 1, 0, 0
    if last_state_path(run_dir).is_file():
        saved = load_training_state(last_state_path(run_dir), cfg, device=device)
        generator.load_state_dict(saved["generator"])
        discriminator.load_state_dict(saved["discriminator"])
        optimizer_g.load_state_dict(saved["optimizer_g"])
        optimizer_d.load_state_dict(saved["optimizer_d"])
        start_epoch, batches_done, iteration = saved["epoch"], saved["batches_done"], saved["iteration"]
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        data_order.set_state(saved["order_state"] if batches_done < steps_per_epoch else saved["data_order_state"])
        if batches_done == steps_per_epoch:
            start_epoch, batches_done = start_epoch + 1, 0
        dropped = keep_rows(run_dir / "train.csv", lambda rows: rows["iteration"] <= iteration)
        keep_rows(run_dir / "snapshots.csv", lambda rows: rows["epoch"] < start_epoch)
        log.info("train: resuming at epoch %d, iteration %d (dropped %d rows written after the saved state)",
                 start_epoch, iteration, dropped)
    log.info("train: %d images, %d epochs of %d iterations, snapshots after epochs %s",
             len(dataset), train_cfg.epochs, steps_per_epoch, snapshots)

    def save_state(epoch: int, batches_done: int, order_state: torch.Tensor) -> None:
        """checkpoints/last.pt: everything needed to continue exactly from here."""
        state = {"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                 "optimizer_g": optimizer_g.state_dict(), "optimizer_d": optimizer_d.state_dict(),
                 "epoch": epoch, "batches_done": batches_done, "iteration": iteration,
                 "order_state": order_state, "data_order_state": data_order.get_state(),
                 "torch_rng": torch.get_rng_state(), "signature": model_signature(cfg)}
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        save_torch(last_state_path(run_dir), state)

    progress = tqdm(total=total_iterations, initial=iteration, desc="train", unit="it", disable=cfg.quiet,
                    dynamic_ncols=True, mininterval=1.0)

    def written(rows: list[dict]) -> None:
        """Check the rows the logger just wrote for NaN/inf and show the newest in the progress bar."""
        for row in rows:
            check_finite(row, ("d_loss", "g_loss"), where=f"train iteration {row['iteration']}", mode=cfg.on_nonfinite)
        if rows:
            progress.set_postfix(d_loss=f"{rows[-1]['d_loss']:.3g}", g_loss=f"{rows[-1]['g_loss']:.3g}", refresh=False)

    precision = mixed_precision(performance, device)
    with CSVLogger(run_dir / "train.csv", TRAIN_COLUMNS, buffer_rows=performance.log_buffer) as logger, \
            CSVLogger(run_dir / "snapshots.csv", SNAPSHOT_COLUMNS) as snapshot_logger:
        for epoch in range(start_epoch, train_cfg.epochs + 1):
            order_state = data_order.get_state()  # this epoch's order can be drawn again on resume
            order = epoch_order(dataset, data_order)
            for real in iterate_epoch(dataset, order, batch_size=train_cfg.batch_size, device=device,
                                      start_batch=batches_done, num_workers=train_cfg.num_workers,
                                      bad_images=bad_images):
                iteration += 1
                batches_done += 1
                noise_std = noise.std(iteration - 1, total_iterations)
                real = real.contiguous(memory_format=layout)  # (B, C, H, W), NHWC in memory when channels_last
                with precision:
                    fake = step_generator(sample_noise(real.shape[0], cfg.model.nz, device=device))  # one G forward, reused
                    metrics = discriminator_step(step_discriminator, optimizer_d, real, fake, noise_std=noise_std,
                                                 clip_sigmas=clip_sigmas)
                    metrics |= generator_step(step_discriminator, optimizer_g, fake, cfg.loss.name,
                                              noise_std=noise_std, clip_sigmas=clip_sigmas)
                metrics["noise_std"] = noise_std
                if iteration % train_cfg.log_every == 0:  # buffered: written every performance.log_buffer rows
                    written(logger.log({"epoch": epoch, "iteration": iteration, **metrics}))
                progress.update()
                if stop.requested:  # step: save exactly here, then stop
                    written(logger.flush())
                    save_state(epoch, batches_done, order_state)
                    raise Interrupted(f"train iteration {iteration} (epoch {epoch})")
                if train_cfg.checkpoint_every and iteration % train_cfg.checkpoint_every == 0:
                    written(logger.flush())  # the CSV holds every row up to the saved state
                    save_state(epoch, batches_done, order_state)
            written(logger.flush())

            if epoch in snapshots:  # step: snapshot G, D and both optimizers, samples, distances
                save_torch(checkpoint_path(run_dir, epoch), {
                    "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                    "optimizer_g": optimizer_g.state_dict(), "optimizer_d": optimizer_d.state_dict(),
                    "epoch": epoch, "iteration": iteration, "signature": model_signature(cfg)})
                with torch.no_grad():
                    samples = generator(fixed_noise)
                save_image_grid(run_dir / "samples" / f"epoch_{epoch:03d}.png", samples)
                distances = measure_distances(generator, dataset, cfg.distance, nz=cfg.model.nz, device=device,
                                              seed=cfg.seed + epoch)
                snapshot_logger.log({"epoch": epoch, "iteration": iteration, "noise_std": noise_std,
                                     "clip_sigmas": clip_sigmas, **distances})
                log.info("train: epoch %d, iteration %d: saved %s; sliced W1 %.3f, exact W1 %.3f", epoch, iteration,
                         checkpoint_path(run_dir, epoch).name, distances["sliced_wasserstein"],
                         distances["wasserstein_exact"])
            if bad_images.skipped:
                log.warning("train: skipped %d unreadable images so far (dataset.bad_images=skip)",
                            bad_images.skipped)
            save_state(epoch, steps_per_epoch, order_state)  # the epoch is complete
            batches_done = 0
    progress.close()
    return snapshot_paths(cfg, run_dir)


def load_training_state(path: Path, cfg: DictConfig, *, device: torch.device) -> dict:
    """checkpoints/last.pt, loaded as weights only and checked against this run's architecture."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torn, foreign or malicious
        raise ConfigError("resume", f"cannot load {path}: {error.__class__.__name__}: {error}; "
                          "use a new hydra.run.dir") from None
    if not isinstance(state, dict) or state.get("signature") != model_signature(cfg):
        raise ConfigError("resume", f"{path} does not match this run's model and data; use a new hydra.run.dir")
    return state
