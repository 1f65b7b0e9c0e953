"""The probe's discriminator objectives ("critics"): what a fresh D is trained with against a frozen G.

Each critic is a node critic.<name> (conf/critic/<name>.yaml): its objective (losses.critic_loss), the
generator costs whose gradients it implies, a penalty, weight clipping, D's normalization and its optimizer.
Its objective and its D's architecture may be a user's own (`_target_`, extend.py, docs/extending.md).
critic=gan is the paper's probe; the others answer Figures 2-3's question for WGAN, WGAN-GP, LSGAN, hinge
and R1: trained towards optimality against a fixed G, does G's gradient vanish, explode or stay informative?

    gradient penalty (Gulrajani et al. 2017): lambda E (||grad_x D(x_hat)||_2 - 1)^2,
        x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per sample
    R1 (Mescheder et al. 2018, Eq. 9):      gamma / 2 E ||grad_x D(x)||_2^2 at real x
Both act on D's raw output (the logit for a logistic D). input_gradient_norm measures the same kind of
quantity, the mean ||grad_x D(x)||, at the probe's fresh real samples and fakes (not at the interpolates,
and a mean of norms where R1 penalizes a mean of squares); with BatchNorm in D (training mode, as D is
used) a sample's output also depends on the rest of its batch, so the gradient has cross-sample terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from omegaconf import DictConfig

from gan_repro.extend import build_objective, has_target
from gan_repro.losses import OWN_COST, Objective, at_least_float32, critic_loss
from gan_repro.steps import discriminator_outputs, take_step

PENALTIES = ("none", "gradient", "r1")
ARCHITECTURES = ("model", "linear")  # the run's D (model=) or logistic regression on pixels (critic=linear);
# or a user's D: {_target_: module.YourD, ...}
OPTIMIZERS = ("adam", "rmsprop")
# probe.csv's column for each generator cost's gradient norm (and grad_relvar_<same suffix>)
COST_COLUMNS = {
    "minimax": "grad_norm_minimax",
    "nonsaturating": "grad_norm_nonsaturating",
    "wasserstein": "grad_norm_generator",
    "least_squares": "grad_norm_generator",
    OWN_COST: "grad_norm_generator",  # a user's objective's own generator cost
}


def cost_column(kind: str | Objective) -> str:
    """probe.csv's column for a generator cost: a built-in's name, or a user's objective (its own cost)."""
    return COST_COLUMNS[OWN_COST if isinstance(kind, Objective) else kind]


@dataclass(frozen=True)
class Critic:
    """One critic, read from its critic.<name> node (checked by config.py)."""

    name: str
    architecture: str | DictConfig  # a built-in's name, or a user's D: {_target_: ...}
    objective: str | Objective  # a built-in's name, or the user's objective, built from its _target_
    generator_costs: tuple[str | Objective, ...]  # `objective` (a user's own cost) as the objective itself
    penalty: str
    penalty_weight: float
    clip: float | None
    norm: str
    optimizer: str
    lr: float
    beta1: float | None
    beta2: float | None
    alpha: float | None
    iterations: int | None  # D iterations of this critic's probe; None: probe.iterations

    @classmethod
    def from_node(cls, name: str, node: DictConfig) -> Critic:
        """The critic named `name` from its config node (a user's objective built from its _target_)."""
        objective: str | Objective = str(node.objective)
        if has_target(node.objective):
            objective = build_objective(f"critic.{name}.objective", node.objective)
        return cls(
            name=name,
            architecture=node.architecture if has_target(node.architecture) else str(node.architecture),
            objective=objective,
            generator_costs=tuple(
                objective if kind == OWN_COST else str(kind) for kind in node.generator_costs
            ),
            penalty=str(node.penalty),
            penalty_weight=float(node.penalty_weight),
            clip=None if node.clip is None else float(node.clip),
            norm=str(node.norm),
            optimizer=str(node.optimizer),
            lr=float(node.lr),
            beta1=None if node.beta1 is None else float(node.beta1),
            beta2=None if node.beta2 is None else float(node.beta2),
            alpha=None if node.alpha is None else float(node.alpha),
            iterations=None if node.get("iterations") is None else int(node.iterations),  # optional key
        )


def probe_critics(critic_cfg: DictConfig) -> list[Critic]:
    """Every critic the `critic` node holds, in its order (critic=gan: just the paper's)."""
    return [Critic.from_node(str(name), node) for name, node in critic_cfg.items()]


def make_optimizer(discriminator: nn.Module, critic: Critic) -> torch.optim.Optimizer:
    """The critic's optimizer: Adam (lr, beta1, beta2) or RMSprop (lr, alpha)."""
    if critic.optimizer == "rmsprop":
        return torch.optim.RMSprop(discriminator.parameters(), lr=critic.lr, alpha=critic.alpha)
    return torch.optim.Adam(discriminator.parameters(), lr=critic.lr, betas=(critic.beta1, critic.beta2))


def clip_weights(discriminator: nn.Module, clip: float) -> None:
    """WGAN's weight clipping: every parameter into [-clip, clip], in place (Algorithm 1, line 7)."""
    with torch.no_grad():
        for parameter in discriminator.parameters():
            parameter.clamp_(-clip, clip)


def input_gradients(discriminator: nn.Module, images: torch.Tensor, *, create_graph: bool) -> torch.Tensor:
    """grad_x of sum_i D(x_i) at the images, (B, C, H, W): each sample's gradient of its own output (with
    BatchNorm in training mode, as D is used, a sample's output also depends a little on the others)."""
    inputs = images if images.requires_grad else images.detach().requires_grad_(True)
    with torch.enable_grad():
        outputs = at_least_float32(discriminator(inputs))
        (gradient,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=create_graph)
    return gradient


def gradient_penalty(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator | None
) -> torch.Tensor:
    """WGAN-GP's E (||grad D(x_hat)||_2 - 1)^2 on random interpolates of real and fake (paired up to the
    smaller batch: the negative control's pool of "fakes" may give one image more)."""
    count = min(real.shape[0], fake.shape[0])
    real, fake = real[:count].detach(), fake[:count].detach()
    mix = torch.rand(count, 1, 1, 1, device=real.device, dtype=real.dtype, generator=rng)  # e
    interpolates = (mix * real + (1 - mix) * fake).requires_grad_(True)
    gradient = input_gradients(discriminator, interpolates, create_graph=True)
    return (gradient.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """R1's E ||grad_x D(x)||_2^2 at the real samples (the gamma / 2 factor is the caller's)."""
    gradient = input_gradients(discriminator, real.detach().requires_grad_(True), create_graph=True)
    return gradient.flatten(1).pow(2).sum(dim=1).mean()


def input_gradient_norm(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The mean over samples of ||grad_x D(x)||_2, float64 (R1 penalizes the mean square at real samples,
    the gradient penalty acts at interpolates: the same kind of quantity, not their terms)."""
    gradient = input_gradients(discriminator, images, create_graph=False)
    return gradient.detach().double().flatten(1).norm(dim=1).mean()


def critic_step(
    critic: Critic,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    sigma: float = 0.0,
    clip_sigmas: float = 4.0,
    rng: torch.Generator | None = None,
    penalty_rng: torch.Generator | None = None,
) -> None:
    """One optimizer step on the critic's cost (plus its penalty), instance noise (from rng) on both
    inputs, then its weight clipping. For critic=gan this is exactly steps.discriminator_step."""
    real_inputs, fake_inputs, real_outputs, fake_outputs = discriminator_outputs(
        discriminator, real, fake, sigma=sigma, clip_sigmas=clip_sigmas, rng=rng
    )
    loss = critic_loss(real_outputs, fake_outputs, critic.objective)
    if critic.penalty == "gradient":  # Gulrajani et al., Algorithm 1, line 7
        loss = loss + critic.penalty_weight * gradient_penalty(
            discriminator, real_inputs, fake_inputs, penalty_rng
        )
    elif critic.penalty == "r1":  # Mescheder et al., Eq. (9)
        loss = loss + 0.5 * critic.penalty_weight * r1_penalty(discriminator, real_inputs)
    take_step(optimizer, loss)
    if critic.clip is not None:
        clip_weights(discriminator, critic.clip)
