"""GAN costs, written in D's logits l (D = sigmoid(l)) with softplus so nothing under- or overflows.

log D(x)      = -softplus(-l)
log(1 - D(x)) = -softplus(l)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GENERATOR_LOSSES = ("nonsaturating", "minimax")


def at_least_float32(logits: torch.Tensor) -> torch.Tensor:
    """Logits from a bf16/fp16 forward (autocast) as float32; float32 and float64 unchanged."""
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-1/2 (E log D(x) + E log(1 - D(G(z)))), the cost D minimizes (Eq. 1 negated, halved)."""
    return 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The cost G minimizes: minimax E log(1 - D(G(z))), or nonsaturating E -log D(G(z))."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"unknown generator loss '{kind}'; choose one of {', '.join(GENERATOR_LOSSES)}")


def discriminator_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Fraction of real (D > 1/2, l > 0) and fake (D < 1/2, l < 0) samples classified correctly."""
    correct = (real_logits > 0).sum() + (fake_logits < 0).sum()
    return correct.double() / (real_logits.numel() + fake_logits.numel())


def log_cost_slopes(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """log |d cost / d l_i| per sample, float64, for the generator cost averaged over the batch.

    minimax:       d/dl [-softplus(l)]  = -sigmoid(l),  log|.| = -softplus(-l) - log B
    nonsaturating: d/dl [softplus(-l)]  = -sigmoid(-l), log|.| = -softplus(l)  - log B
    Both slopes are negative for every sample, so only their magnitudes are needed.
    """
    logits = fake_logits.detach().double()  # float64: sigmoid(-200) = 1e-87 must not become 0
    log_batch = torch.log(torch.tensor(float(logits.numel()), dtype=torch.float64, device=logits.device))
    if kind == "minimax":
        return -F.softplus(-logits) - log_batch
    if kind == "nonsaturating":
        return -F.softplus(logits) - log_batch
    raise ValueError(f"unknown generator loss '{kind}'; choose one of {', '.join(GENERATOR_LOSSES)}")
