"""What a D step and a G step share, in training and in the probe: latents, Adam, the two steps, and the
settings that change how (not what) they compute: memory layout, autocast, torch.compile."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from omegaconf import DictConfig

from gan_repro.losses import (
    Objective,
    at_least_float32,
    discriminator_accuracy,
    discriminator_loss,
    generator_cost,
)
from gan_repro.noise import add_instance_noise


def derived_seed(*keys: int) -> int:
    """A seed for one random stream, from its keys (run seed, snapshot's G steps, stream number): distinct
    keys give unrelated seeds (numpy's SeedSequence hashing), unlike sums such as seed + steps, which collide
    (seed 1 at step i = seed 0 at step i + 1). Below 2**63, as torch.manual_seed takes."""
    return int(np.random.SeedSequence([int(key) for key in keys]).generate_state(1, np.uint64)[0] >> 1)


def make_adam(model: nn.Module, optimizer_cfg: DictConfig) -> torch.optim.Adam:
    """Adam with DCGAN's settings, read from a node holding lr, beta1, beta2."""
    return torch.optim.Adam(
        model.parameters(), lr=optimizer_cfg.lr, betas=(optimizer_cfg.beta1, optimizer_cfg.beta2)
    )


def sample_z(
    count: int,
    nz: int,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """Latents z ~ N(0, I), shape (count, nz)."""
    return torch.randn(count, nz, device=device, dtype=dtype, generator=rng)


def discriminator_outputs(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
    rng: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """D's inputs x + eps and G(z) + eps (noise from rng, if given; G's graph cut) and its outputs on them,
    (B,) each and at least float32: real and fake in separate calls, as in DCGAN (BatchNorm statistics)."""
    real_inputs = add_instance_noise(real, sigma, clip_sigmas=clip_sigmas, rng=rng)
    fake_inputs = add_instance_noise(fake.detach(), sigma, clip_sigmas=clip_sigmas, rng=rng)
    real_outputs = at_least_float32(discriminator(real_inputs))
    return real_inputs, fake_inputs, real_outputs, at_least_float32(discriminator(fake_inputs))


def take_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Zero the gradients, backpropagate the loss, step the optimizer."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def discriminator_step(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
    rng: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One Adam step on D's cost, instance noise (from rng, if given) on both inputs; returns cost and
    accuracy before the step."""
    _, _, real_logits, fake_logits = discriminator_outputs(
        discriminator, real, fake, sigma=sigma, clip_sigmas=clip_sigmas, rng=rng
    )
    # Eq. (1), negated: D maximizes log D(x) + log(1 - D(G(z)))
    take_step(optimizer, discriminator_loss(real_logits, fake_logits))
    real_logits, fake_logits = real_logits.detach().double(), fake_logits.detach().double()
    return {
        "d_loss": discriminator_loss(real_logits, fake_logits),  # float64 so a cost of 1e-40 stays 1e-40
        "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
    }


def generator_step(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    fake: torch.Tensor,
    kind: str | Objective,
    *,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
) -> dict[str, torch.Tensor]:
    """One Adam step on G's cost (training's loss=, or any critic's generator cost) through D(G(z) + eps)
    (fake must carry G's graph); returns the cost."""
    logits = at_least_float32(discriminator(add_instance_noise(fake, sigma, clip_sigmas=clip_sigmas)))
    loss = generator_cost(logits, kind)
    take_step(optimizer, loss)
    return {"g_loss": loss.detach()}


def memory_format(performance_cfg: DictConfig) -> torch.memory_format:
    """channels_last (NHWC) when performance.channels_last is set, else the default layout."""
    return torch.channels_last if performance_cfg.channels_last else torch.contiguous_format


def mixed_precision(performance_cfg: DictConfig, device: torch.device) -> torch.autocast:
    """bf16 autocast for the training stage's forward passes if performance.autocast=bf16, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=performance_cfg.autocast == "bf16")


def compiled(model: nn.Module, performance_cfg: DictConfig) -> nn.Module:
    """torch.compile(model) when performance.compile is set (state_dict stays on the original model)."""
    return torch.compile(model, mode=performance_cfg.compile_mode) if performance_cfg.compile else model
