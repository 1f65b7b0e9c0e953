"""GAN costs, written in D's logits l (D = sigmoid(l)) with softplus so nothing under- or overflows.

log D(x)      = -softplus(-l)
log(1 - D(x)) = -softplus(l)

The probe's other discriminator objectives (critic=...) read D's raw output l the same way: a Wasserstein
critic's value, a least-squares or a hinge discriminator's score. A user's own objective subclasses
Objective (critic.<name>.objective._target_, docs/extending.md); the functions below take its instance
wherever they take a built-in objective's or cost's name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GENERATOR_LOSSES = ("nonsaturating", "minimax")  # what G trains with (loss=)
GENERATOR_COSTS = (*GENERATOR_LOSSES, "wasserstein", "least_squares")  # what the probe can measure
OBJECTIVES = ("logistic", "wasserstein", "least_squares", "hinge")  # what the probe's D can minimize
OWN_COST = "objective"  # generator_costs' name for a user's objective's own cost (Objective.generator_cost)
# Where D's output separates real (above) from fake (below); None: a Wasserstein critic's value is defined up
# to a constant, so its sign says nothing. Least squares with the 0-1 coding: the midpoint (a + b) / 2.
DECISION_THRESHOLDS = {"logistic": 0.0, "hinge": 0.0, "least_squares": 0.5, "wasserstein": None}
# The generator costs each objective defines: log(1 - D) and -log D need D = sigmoid(l), a probability;
# WGAN's and the hinge loss's G minimizes -E l; LSGAN's G minimizes 1/2 E (l - c)^2.
OBJECTIVE_COSTS = {
    "logistic": ("nonsaturating", "minimax"),
    "wasserstein": ("wasserstein",),
    "hinge": ("wasserstein",),
    "least_squares": ("least_squares",),
}


class Objective:
    """A critic objective of the user's own, named by critic.<name>.objective._target_ (its other keys are
    the constructor's keyword arguments). D's output l is one number per sample, (B,), as for the built-in
    objectives; the probe's D minimizes discriminator_loss, and `generator_costs: [objective]` measures
    || grad_theta generator_cost || in probe.csv's grad_norm_generator.

    The probe backpropagates d cost / d l_i through G with the largest |d cost / d l_i| scaled out (as for
    the built-in costs, probe.scaled_cost_gradients). log_cost_slopes gives log |d cost / d l_i|: by
    default autograd through generator_cost in float64 (slopes down to ~1e-300 survive, if the cost is
    written with softplus or logsigmoid, never log(sigmoid(l))); override it to give them in log form."""

    threshold: float | None = None  # l above it says real, below it fake (d_accuracy); None: no accuracy
    builtin_costs: tuple[str, ...] = ()  # built-in costs that fit l, e.g. ("nonsaturating", "minimax") for
    # a logit (D = sigmoid(l)): generator_costs may list them beside `objective`

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The scalar the probe's D minimizes, from its outputs on real (B,) and fake (B,) samples."""
        raise NotImplementedError(f"{type(self).__name__} must define discriminator_loss(real, fake)")

    def generator_cost(self, fake: torch.Tensor) -> torch.Tensor:
        """The scalar G would minimize, from D's outputs on G(z) (B,): grad_norm_generator's cost."""
        raise NotImplementedError(f"{type(self).__name__} must define generator_cost(fake)")

    def cost_slopes(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """d generator_cost / d l_i per sample (B,), float64, by autograd (0 where the cost ignores l_i)."""
        logits = fake_logits.detach().double().requires_grad_(True)
        with torch.enable_grad():
            (slopes,) = torch.autograd.grad(self.generator_cost(logits), logits, allow_unused=True)
        return torch.zeros_like(logits) if slopes is None else slopes.detach()

    def log_cost_slopes(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """log |d generator_cost / d l_i| per sample, float64 (-inf where a slope is 0)."""
        return torch.log(self.cost_slopes(fake_logits).abs())

    def cost_slope_signs(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The sign of each d generator_cost / d l_i, float64 (+-1 or 0)."""
        return torch.sign(self.cost_slopes(fake_logits))


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


def critic_loss(real: torch.Tensor, fake: torch.Tensor, objective: str | Objective) -> torch.Tensor:
    """The cost the probe's D minimizes, from its outputs on real (B,) and fake (B,) samples (no penalty).

    logistic:      1/2 (E softplus(-l(x)) + E softplus(l(G(z))))            Eq. (1), negated and halved
    wasserstein:   E l(G(z)) - E l(x)                                      WGAN's critic, negated
    least_squares: 1/2 E (l(x) - 1)^2 + 1/2 E l(G(z))^2                    LSGAN, a = 0, b = 1
    hinge:         E max(0, 1 - l(x)) + E max(0, 1 + l(G(z)))               Lim & Ye; Miyato et al.
    a user's:      objective.discriminator_loss(real, fake)
    """
    if isinstance(objective, Objective):
        return objective.discriminator_loss(real, fake)
    if objective == "logistic":
        return discriminator_loss(real, fake)
    if objective == "wasserstein":
        return fake.mean() - real.mean()
    if objective == "least_squares":
        return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()
    if objective == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    raise ValueError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")


def decision_accuracy(
    real: torch.Tensor, fake: torch.Tensor, objective: str | Objective
) -> torch.Tensor | None:
    """Fraction of real samples above and fake ones below the objective's threshold; None for a Wasserstein
    critic, whose output has no meaningful sign (and for a user's objective without a threshold)."""
    if isinstance(objective, Objective):
        threshold = objective.threshold
    else:
        threshold = DECISION_THRESHOLDS[objective]
    if threshold is None:
        return None
    correct = (real > threshold).sum() + (fake < threshold).sum()
    return correct.double() / (real.numel() + fake.numel())


def discriminator_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Fraction of real (D > 1/2, l > 0) and fake (D < 1/2, l < 0) samples classified correctly."""
    correct = (real_logits > 0).sum() + (fake_logits < 0).sum()
    return correct.double() / (real_logits.numel() + fake_logits.numel())


def log_cost_slopes(fake_logits: torch.Tensor, kind: str | Objective) -> torch.Tensor:
    """log |d cost / d l_i| per sample, float64, for the generator cost averaged over the batch (a user's
    objective: its generator_cost's, Objective.log_cost_slopes).

    minimax:       d/dl [-softplus(l)]    = -sigmoid(l),  log|.| = -softplus(-l) - log B
    nonsaturating: d/dl [softplus(-l)]    = -sigmoid(-l), log|.| = -softplus(l)  - log B
    wasserstein:   d/dl [-l]              = -1,           log|.| = -log B
    least_squares: d/dl [1/2 (l - 1)^2]   = l - 1,        log|.| = log|l - 1| - log B (-inf where l = 1)
    """
    if isinstance(kind, Objective):
        return kind.log_cost_slopes(fake_logits)
    logits = fake_logits.detach().double()  # float64: sigmoid(-200) = 1e-87 must not become 0
    log_batch = torch.log(torch.tensor(float(logits.numel()), dtype=torch.float64, device=logits.device))
    if kind == "minimax":
        return -F.softplus(-logits) - log_batch
    if kind == "nonsaturating":
        return -F.softplus(logits) - log_batch
    if kind == "wasserstein":
        return torch.zeros_like(logits) - log_batch
    if kind == "least_squares":
        return torch.log((logits - 1).abs()) - log_batch
    raise ValueError(f"unknown generator cost '{kind}'; choose one of {', '.join(GENERATOR_COSTS)}")


def cost_slope_signs(fake_logits: torch.Tensor, kind: str | Objective) -> torch.Tensor:
    """The sign of each d cost / d l_i, as far as a gradient norm needs it (float64, +-1 or 0): +1 for the
    costs whose slopes share one sign (minimax, nonsaturating, wasserstein: a global sign leaves every norm
    unchanged), sign(l_i - 1) for least squares, whose slopes differ in sign between samples; a user's
    objective: its own signs (Objective.cost_slope_signs)."""
    if isinstance(kind, Objective):
        return kind.cost_slope_signs(fake_logits)
    logits = fake_logits.detach().double()
    if kind == "least_squares":
        return torch.sign(logits - 1)
    return torch.ones_like(logits)


def common_slope_sign(kind: str | Objective) -> float:
    """The sign cost_slope_signs leaves out: -1 where every slope d cost / d l_i is negative (minimax
    -sigmoid(l), nonsaturating -sigmoid(-l), wasserstein -1), +1 for least squares and a user's objective
    (whose signs it keeps per sample). A gradient backpropagated with cost_slope_signs' weights, times this
    sign, is the cost's (over max_j |c_j|): its norm needs no sign, its direction does."""
    return 1.0 if isinstance(kind, Objective) or kind == "least_squares" else -1.0


def generator_cost(fake_logits: torch.Tensor, kind: str | Objective) -> torch.Tensor:
    """A generator cost from D's outputs on G(z): the training costs, -E l (WGAN, hinge), 1/2 E (l - 1)^2
    (LSGAN, c = 1) or a user's objective's own. The probe measures its gradient through log_cost_slopes;
    this is its value, what a G step minimizes."""
    if isinstance(kind, Objective):
        return kind.generator_cost(fake_logits)
    if kind == "wasserstein":
        return -fake_logits.mean()
    if kind == "least_squares":
        return 0.5 * (fake_logits - 1).pow(2).mean()
    return generator_loss(fake_logits, kind)
