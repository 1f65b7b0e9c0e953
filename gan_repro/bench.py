"""`gan-repro-bench`: our training stage against the plain PyTorch DCGAN example loop, in one process on
one device, and the probe's cost per logged iteration against a bare discriminator step.

Both loops get the same architecture (built from the same config), batch, Adam settings, iterations
and synthetic images. The reference is written the way the PyTorch DCGAN example writes it: a DataLoader
with workers over float images, D with a sigmoid and BCELoss, separate backward passes for the real and
fake halves, one G forward reused for the D and G steps, and `.item()` on three statistics per iteration.
Ours is `gan_repro.train.train` itself, with everything it does per iteration (CSV row, checks, state
saves) and its one snapshot at the end (samples and distances). Each is warmed up, then run `repeats`
times alternately; we report the median images/s and the ratio.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig, open_dict
from torch.utils.data import DataLoader, TensorDataset

from gan_repro.config import check_config
from gan_repro.critics import critic_step, make_optimizer, probe_critics
from gan_repro.data import TensorImages, to_unit_range
from gan_repro.models import build_discriminator, build_generator, requires_grad
from gan_repro.pipeline import train_stage
from gan_repro.probe import exact_float_math, generator_grad_norms
from gan_repro.steps import make_adam, memory_format, sample_z


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so wall-clock times are the work's."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], Any], device: torch.device) -> float:
    """Seconds function() takes, device work included."""
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def synthetic_images(count: int, *, channels: int, image_size: int, seed: int) -> torch.Tensor:
    """uint8 (count, channels, image_size, image_size): smooth random images (coarse noise, upsampled)."""
    rng = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, channels, 4, 4, generator=rng)
    images = nn.functional.interpolate(
        coarse, size=(image_size, image_size), mode="bilinear", align_corners=False
    )
    return (images * 255).round().to(torch.uint8)


def reference_loop(
    cfg: DictConfig, images: torch.Tensor, *, iterations: int, device: torch.device, num_workers: int
) -> None:
    """The PyTorch DCGAN example's training loop, `iterations` steps over float images in [-1, 1]."""
    image_size, channels, nz = int(cfg.dataset.image_size), int(cfg.dataset.channels), int(cfg.model.nz)
    net_g = build_generator(cfg.model, image_size=image_size, channels=channels).to(device)
    net_d = build_discriminator(cfg.model, image_size=image_size, channels=channels).to(device)
    criterion = nn.BCELoss()
    optimizer_d, optimizer_g = make_adam(net_d, cfg.train), make_adam(net_g, cfg.train)
    loader = DataLoader(
        TensorDataset(images),
        batch_size=int(cfg.train.batch_size),
        shuffle=True,
        num_workers=num_workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
    )
    done = 0
    while done < iterations:
        for (data,) in loader:
            # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
            net_d.zero_grad()
            real = data.to(device)
            batch = real.size(0)
            label = torch.full((batch,), 1.0, dtype=torch.float, device=device)
            output = torch.sigmoid(net_d(real))
            error_d_real = criterion(output, label)
            error_d_real.backward()
            d_x = output.mean().item()
            z = torch.randn(batch, nz, device=device)
            fake = net_g(z)
            label.fill_(0.0)
            output = torch.sigmoid(net_d(fake.detach()))
            error_d_fake = criterion(output, label)
            error_d_fake.backward()
            d_g_z1 = output.mean().item()
            error_d = error_d_real + error_d_fake
            optimizer_d.step()
            # (2) update G: maximize log(D(G(z)))
            net_g.zero_grad()
            label.fill_(1.0)
            output = torch.sigmoid(net_d(fake))
            error_g = criterion(output, label)
            error_g.backward()
            d_g_z2 = output.mean().item()
            optimizer_g.step()
            _ = (error_d.item(), error_g.item(), d_x, d_g_z1, d_g_z2)  # what the example prints
            done += 1
            if done == iterations:
                return


def our_training_stage(cfg: DictConfig, images: torch.Tensor, *, device: torch.device, run_dir: Path) -> None:
    """The training stage (train.train) for one epoch over `images` (the benchmark's iterations)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    train_stage(cfg, dataset=TensorImages(images), run_dir=run_dir, device=device)


def bench_config(composed: DictConfig) -> DictConfig:
    """A copy of the composed config set for one epoch (its length is the dataset's) and a light snapshot."""
    cfg = composed.copy()
    with open_dict(cfg):
        cfg.quiet, cfg.train.epochs, cfg.train.snapshot_epochs = True, 1, [1]
        cfg.train.snapshot_iterations = []
        cfg.train.checkpoint_every = 0
        cfg.distance.samples, cfg.distance.exact_samples = 256, 64
        cfg.train.sample_count = 16
    return cfg


def probe_costs(cfg: DictConfig, *, device: torch.device, iterations: int, repeats: int) -> dict[str, float]:
    """Median ms of the probe's bare D step (G forward + D step) and of a logged iteration (+ both norms)."""
    image_size, channels, batch = (
        int(cfg.dataset.image_size),
        int(cfg.dataset.channels),
        int(cfg.probe.batch_size),
    )
    layout = memory_format(cfg.performance)  # as the probe lays them out
    generator = build_generator(cfg.model, image_size=image_size, channels=channels).to(
        device, memory_format=layout
    )
    requires_grad(generator, False)
    critic = probe_critics(cfg.critic)[0]  # the probe's first critic (critic=gan: Adam as in training)
    discriminator = build_discriminator(
        cfg.model, image_size=image_size, channels=channels, norm=critic.norm
    ).to(device, memory_format=layout)
    optimizer = make_optimizer(discriminator, critic)
    real = to_unit_range(synthetic_images(batch, channels=channels, image_size=image_size, seed=1)).to(
        device, memory_format=layout
    )

    def d_step() -> None:
        with torch.no_grad():
            fake = generator(sample_z(batch, cfg.model.nz, device=device))
        critic_step(critic, discriminator, optimizer, real, fake)

    def logged(batched: bool) -> Callable[[], None]:
        def step() -> None:
            d_step()
            norms = generator_grad_norms(
                generator, discriminator, sample_z(batch, cfg.model.nz, device=device), batched=batched
            )
            norms["grad_norm_minimax"].item()

        return step

    results = {}
    with exact_float_math(device):
        for name, step in (
            ("d_step_ms", d_step),
            ("logged_two_pass_ms", logged(False)),
            ("logged_batched_ms", logged(True)),
        ):
            for _ in range(3):
                step()  # warm-up
            samples = [
                timed(lambda step=step: [step() for _ in range(iterations)], device) / iterations * 1000
                for _ in range(repeats)
            ]
            results[name] = statistics.median(samples)
    results["logged_two_pass_ratio"] = results["logged_two_pass_ms"] / results["d_step_ms"]
    results["logged_batched_ratio"] = results["logged_batched_ms"] / results["d_step_ms"]
    return results


def device_name(device: torch.device) -> str:
    """A human-readable name for the device."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def run_benchmark(
    composed: DictConfig,
    *,
    overrides: Sequence[str] = (),
    iterations: int,
    repeats: int,
    warmup: int,
    num_workers: int,
    probe_iterations: int,
) -> dict[str, Any]:
    """Reference loop vs our training stage (images/s, ratio) and the probe's costs; a JSON-ready dict."""
    cfg = bench_config(composed)
    device = check_config(cfg)
    batch, size, channels = int(cfg.train.batch_size), int(cfg.dataset.image_size), int(cfg.dataset.channels)
    images = synthetic_images(iterations * batch, channels=channels, image_size=size, seed=0)
    float_images = to_unit_range(images)  # the reference's dataset: float tensors, as a transform would give
    warm_images = images[: warmup * batch]
    reference_s, ours_s = [], []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        torch.manual_seed(0)
        reference_loop(
            cfg, float_images[: warmup * batch], iterations=warmup, device=device, num_workers=num_workers
        )
        our_training_stage(cfg, warm_images, device=device, run_dir=scratch / "warmup")
        for repeat in range(repeats):  # alternate, so drift in the machine's speed hits both alike
            torch.manual_seed(repeat)
            reference_s.append(
                timed(
                    lambda: reference_loop(
                        cfg, float_images, iterations=iterations, device=device, num_workers=num_workers
                    ),
                    device,
                )
            )
            torch.manual_seed(repeat)
            ours_s.append(
                timed(
                    lambda repeat=repeat: our_training_stage(
                        cfg, images, device=device, run_dir=scratch / f"ours_{repeat}"
                    ),
                    device,
                )
            )
    reference_rate = iterations * batch / statistics.median(reference_s)
    our_rate = iterations * batch / statistics.median(ours_s)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "device": device_name(device),
        "torch": torch.__version__,
        "settings": {
            "overrides": list(overrides),
            "image_size": size,
            "channels": channels,
            "batch_size": batch,
            "ngf": cfg.model.get("ngf"),
            "ndf": cfg.model.get("ndf"),
            "model": cfg.model.name,
            "iterations": iterations,
            "repeats": repeats,
            "warmup": warmup,
            "reference_num_workers": num_workers,
            "data": "synthetic uint8 images (ours) / the same as float (reference)",
        },
        "reference_images_per_s": reference_rate,
        "ours_images_per_s": our_rate,
        "ratio": our_rate / reference_rate,
        "reference_runs_s": reference_s,
        "ours_runs_s": ours_s,
        "probe": probe_costs(cfg, device=device, iterations=probe_iterations, repeats=repeats),
    }


def format_table(result: dict[str, Any]) -> str:
    """The result as a small Markdown table."""
    probe = result["probe"]
    settings = result["settings"]
    lines = [
        f"device: {result['device']}, torch {result['torch']}, {result['date']}; {settings['image_size']}x"
        f"{settings['image_size']}x{settings['channels']}, batch {settings['batch_size']}, "
        f"{settings['iterations']} iterations x {settings['repeats']} repeats",
        "",
        "| measure | value |",
        "|---|---|",
        f"| reference loop (PyTorch DCGAN example) | {result['reference_images_per_s']:.0f} images/s |",
        f"| our training stage | {result['ours_images_per_s']:.0f} images/s |",
        f"| ratio (ours / reference) | {result['ratio']:.2f}x |",
        f"| probe: bare D step | {probe['d_step_ms']:.1f} ms |",
        f"| probe: logged iteration, two backward passes | {probe['logged_two_pass_ms']:.1f} ms "
        f"({probe['logged_two_pass_ratio']:.2f}x) |",
        f"| probe: logged iteration, one batched backward | {probe['logged_batched_ms']:.1f} ms "
        f"({probe['logged_batched_ratio']:.2f}x) |",
    ]
    return "\n".join(lines)
