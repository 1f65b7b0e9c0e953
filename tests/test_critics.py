"""The probe's critics: each objective's loss and generator gradient against hand-computed values, weight
clipping, the gradient penalty against finite differences, R1, critic=gan as the paper's D step, the
critics' config, claims that can fail, and a tiny experiment=critics end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from gan_repro.aggregate import over_start
from gan_repro.cli import plot_main
from gan_repro.columns import PLATEAU_GRADIENT, columns_of
from gan_repro.config import check_config
from gan_repro.critics import (
    Critic,
    clip_weights,
    critic_step,
    gradient_penalty,
    input_gradient_norm,
    make_optimizer,
    probe_critics,
    r1_penalty,
)
from gan_repro.errors import ConfigError
from gan_repro.losses import critic_loss, decision_accuracy, generator_cost
from gan_repro.models import build_discriminator
from gan_repro.pipeline import run
from gan_repro.plan import probe_line
from gan_repro.plot import draw_critics_figure
from gan_repro.probe import generator_grad_norms
from gan_repro.report import (
    Plateau,
    PlateauRule,
    cost_plateau,
    critics_claims,
    critics_table,
)
from gan_repro.steps import discriminator_step, make_adam
from tests.helpers import TINY, compose_config, run_cli, undeclared_columns

pytestmark = pytest.mark.integration

CRITICS = ["gan", "linear", "wgan", "wgan_gp", "lsgan", "hinge", "gan_r1"]
REAL = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)  # D's outputs on three real samples
FAKE = torch.tensor([-3.0, 1.5, 0.25], dtype=torch.float64)  # ... and on three fakes


def critic(name: str, overrides: list[str] | None = None) -> Critic:
    """The critic `name` as the composed config defines it."""
    cfg = compose_config([f"critic={name}", *(overrides or [])])
    return probe_critics(cfg.critic)[0]


# ----------------------------------------------------------------------------- objectives by hand
def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (
            "logistic",
            0.5
            * (sum(softplus(-r) for r in REAL.tolist()) / 3 + sum(softplus(f) for f in FAKE.tolist()) / 3),
        ),
        ("wasserstein", (-3.0 + 1.5 + 0.25) / 3 - (2.0 - 1.0 + 0.5) / 3),
        ("least_squares", 0.5 * (1.0 + 4.0 + 0.25) / 3 + 0.5 * (9.0 + 2.25 + 0.0625) / 3),
        ("hinge", (0.0 + 2.0 + 0.5) / 3 + (0.0 + 2.5 + 1.25) / 3),
    ],
)
def test_each_objective_against_a_hand_computed_value(objective: str, expected: float) -> None:
    assert critic_loss(REAL, FAKE, objective).item() == pytest.approx(expected, rel=1e-12)


def test_accuracy_where_a_sign_can_be_read() -> None:
    real, fake = torch.tensor([0.3, 0.7, 0.9]), torch.tensor([0.1, 0.2, -0.4])
    assert decision_accuracy(real, fake, "logistic").item() == pytest.approx(4 / 6)  # output > 0: real
    assert decision_accuracy(real, fake, "hinge").item() == pytest.approx(4 / 6)
    # least squares with a = 0, b = 1: the boundary is the midpoint 0.5
    assert decision_accuracy(real, fake, "least_squares").item() == pytest.approx(5 / 6)
    assert decision_accuracy(real, fake, "wasserstein") is None  # a critic's sign means nothing


class LinearGenerator(nn.Module):
    """G(z) = Theta z as a (B, 1, 2, 2) image: gradients w.r.t. Theta have a closed form."""

    def __init__(self, theta: torch.Tensor) -> None:
        super().__init__()
        self.theta = nn.Parameter(theta.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.theta.T).view(-1, 1, 2, 2)


class LinearCritic(nn.Module):
    """D(x) = w . x + b: the output's gradient w.r.t. x is w for every sample."""

    def __init__(self, w: torch.Tensor, b: float) -> None:
        super().__init__()
        self.w, self.b = nn.Parameter(w.clone()), nn.Parameter(torch.tensor(b, dtype=w.dtype))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) @ self.w + self.b


@pytest.mark.parametrize("cost", ["minimax", "nonsaturating", "wasserstein", "least_squares"])
def test_each_generator_gradient_against_its_closed_form(cost: str) -> None:
    """For l_i = w . Theta z_i, grad_Theta cost = w (sum_i c_i z_i)^T with c_i = d cost / d l_i, so its norm
    is ||w|| ||sum_i c_i z_i||. Least squares has slopes of both signs here (l_i on both sides of 1)."""
    rng = torch.Generator().manual_seed(0)
    theta = torch.randn(4, 3, generator=rng, dtype=torch.float64)
    w = torch.randn(4, generator=rng, dtype=torch.float64)
    z = torch.randn(16, 3, generator=rng, dtype=torch.float64)
    generator, discriminator = LinearGenerator(theta), LinearCritic(w, 0.7)
    logits = (z @ theta.T) @ w + 0.7
    slopes = {
        "minimax": -torch.sigmoid(logits),
        "nonsaturating": -torch.sigmoid(-logits),
        "wasserstein": -torch.ones_like(logits),
        "least_squares": logits - 1,
    }[cost] / len(z)
    if cost == "least_squares":
        assert (logits > 1).any() and (logits < 1).any()
    expected = w.norm() * (slopes[:, None] * z).sum(0).norm()
    got = next(iter(generator_grad_norms(generator, discriminator, z, kinds=[cost]).values()))
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)
    autograd = torch.autograd.grad(generator_cost(discriminator(generator(z)), cost), generator.theta)[0]
    assert got.item() == pytest.approx(autograd.norm().item(), rel=1e-10)  # the cost's value agrees too


# ----------------------------------------------------------------------------- clipping and penalties
def test_weight_clipping_keeps_every_weight_within_c() -> None:
    wgan = critic("wgan")
    cfg = compose_config(TINY)
    torch.manual_seed(0)
    discriminator = build_discriminator(cfg.model, image_size=16, channels=1, norm=wgan.norm)
    optimizer = make_optimizer(discriminator, wgan)
    assert isinstance(optimizer, torch.optim.RMSprop) and wgan.clip == 0.01
    assert max(p.abs().max().item() for p in discriminator.parameters()) > wgan.clip  # BatchNorm scale ~ 1
    for _ in range(3):
        critic_step(
            wgan, discriminator, optimizer, torch.rand(8, 1, 16, 16) * 2 - 1, torch.randn(8, 1, 16, 16)
        )
        assert max(p.abs().max().item() for p in discriminator.parameters()) <= wgan.clip
    weights = nn.Linear(3, 1)
    nn.init.constant_(weights.weight, 5.0)
    clip_weights(weights, 0.5)
    assert weights.weight.max().item() == 0.5


def finite_difference_norm(discriminator: nn.Module, sample: torch.Tensor, step: float = 1e-6) -> float:
    """||grad_x D(x)|| at one sample by central differences, coordinate by coordinate."""
    flat = sample.flatten()
    gradient = torch.zeros_like(flat)
    for index in range(flat.numel()):
        shift = torch.zeros_like(flat)
        shift[index] = step
        up = discriminator((flat + shift).view(1, *sample.shape)).item()
        down = discriminator((flat - shift).view(1, *sample.shape)).item()
        gradient[index] = (up - down) / (2 * step)
    return gradient.norm().item()


def test_gradient_penalty_matches_finite_differences() -> None:
    torch.manual_seed(0)
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    discriminator = discriminator.double()
    real, fake = torch.rand(5, 1, 4, 4, dtype=torch.float64), torch.randn(5, 1, 4, 4, dtype=torch.float64)
    penalty = gradient_penalty(discriminator, real, fake, torch.Generator().manual_seed(3))
    mix = torch.rand(5, 1, 1, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    interpolates = mix * real + (1 - mix) * fake
    norms = [finite_difference_norm(discriminator, sample) for sample in interpolates]
    expected = sum((norm - 1) ** 2 for norm in norms) / len(norms)
    assert penalty.item() == pytest.approx(expected, rel=1e-6)
    assert penalty.item() > 1e-3  # not trivially zero


def test_r1_is_zero_for_a_constant_d_and_the_squared_slope_for_a_linear_one() -> None:
    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.value = nn.Parameter(torch.tensor(0.3))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return images.flatten(1).sum(1) * 0 + self.value

    images = torch.randn(6, 1, 2, 2)
    assert r1_penalty(Constant(), images).item() == 0.0
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    assert r1_penalty(LinearCritic(w, 0.0), images).item() == pytest.approx(w.pow(2).sum().item())
    assert input_gradient_norm(LinearCritic(w, 0.0), images).item() == pytest.approx(w.norm().item())


def test_critic_gan_is_the_papers_d_step_exactly() -> None:
    """The default probe is unchanged: critic=gan's step is steps.discriminator_step, bit for bit."""
    cfg = compose_config(TINY)
    gan = probe_critics(cfg.critic)[0]
    assert (gan.name, gan.objective, gan.optimizer, gan.lr, gan.beta1) == (
        "gan",
        "logistic",
        "adam",
        2e-4,
        0.5,
    )
    real, fake = torch.rand(8, 1, 16, 16) * 2 - 1, torch.randn(8, 1, 16, 16)
    trained = []
    for step in ("paper", "critic"):
        torch.manual_seed(0)
        discriminator = build_discriminator(cfg.model, image_size=16, channels=1)
        if step == "paper":
            optimizer = make_adam(discriminator, cfg.train)
            for _ in range(3):
                discriminator_step(discriminator, optimizer, real, fake)
        else:
            optimizer = make_optimizer(discriminator, gan)
            for _ in range(3):
                critic_step(gan, discriminator, optimizer, real, fake)
        trained.append(torch.cat([p.detach().flatten() for p in discriminator.parameters()]))
    assert torch.equal(trained[0], trained[1])


# ----------------------------------------------------------------------------- config
def test_every_critic_composes_from_its_paper() -> None:
    cfg = compose_config([*TINY, "experiment=critics"])
    check_config(cfg)
    critics = {c.name: c for c in probe_critics(cfg.critic)}
    assert list(critics) == CRITICS
    assert (critics["wgan"].clip, critics["wgan"].optimizer, critics["wgan"].lr) == (0.01, "rmsprop", 5e-5)
    gp = critics["wgan_gp"]
    assert (gp.penalty, gp.penalty_weight, gp.lr, gp.beta1, gp.beta2, gp.norm) == (
        "gradient",
        10.0,
        1e-4,
        0.0,
        0.9,
        "layer",
    )
    assert critics["gan_r1"].penalty == "r1" and critics["gan_r1"].penalty_weight == 10.0
    assert critics["lsgan"].objective == "least_squares" and critics["hinge"].objective == "hinge"
    assert compose_config(["critic=[gan,wgan]"]).critic.keys() == {"gan", "wgan"}


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ("critic.wgan.clip=-1", "critic.wgan.clip"),
        ("critic.wgan.optimizer=sgd", "critic.wgan.optimizer"),
        ("critic.wgan.alpha=null", "critic.wgan.alpha"),
        ("critic.wgan.generator_costs=[wasserstein,least_squares]", "critic.wgan.generator_costs"),
        ("critic.wgan.objective=kl", "critic.wgan.objective"),
        ("critic.wgan.generator_costs=[minimax]", "critic.wgan.generator_costs"),  # needs a logistic D
        ("critic.wgan.penalty_weight=10", "critic.wgan.penalty_weight"),  # without a penalty
        ("critic.wgan.penalty=gradient", "critic.wgan.norm"),  # a penalty through BatchNorm
        ("critic.wgan.iterations=0", "critic.wgan.iterations"),
        ("critic.wgan.iterations=1.5", "critic.wgan.iterations"),
    ],
)
def test_a_bad_critic_setting_is_named(override: str, setting: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(compose_config(["critic=wgan", override]))
    assert error.value.setting == setting


# ----------------------------------------------------------------------------- plateaus and claims
RULE = PlateauRule(window=10, fraction=0.05)


def exponential(tau: float, points: int, start: float = 1.0, final: float = 0.0) -> np.ndarray:
    """A cost approaching `final` from `start` with time constant tau, logged at 0, 1, ..., points - 1."""
    return final + (start - final) * np.exp(-np.arange(points) / tau)


@pytest.mark.parametrize(("start", "final"), [(0.7, 0.0), (0.3, -5.0)])  # logistic-like; Wasserstein: below 0
def test_critics_are_matched_at_the_same_share_of_their_way_whatever_their_speed(start: float, final: float):
    """Two exponential approaches 10x apart in speed plateau at tau ln(1/f) each (the trailing window's lag
    aside), so both are compared when (1 - f) of the way to their own final cost is done; a rule that asked
    only for a small change relative to the total would call the slow one settled far from its end."""
    for tau in (20.0, 200.0):
        costs = exponential(tau, int(8 * tau), start, final)
        plateau = cost_plateau(np.arange(len(costs)), costs, RULE)
        assert plateau.reached and plateau.iteration == plateau.index  # logged at every iteration
        assert math.log(1 / RULE.fraction) <= plateau.iteration / tau <= 1.12 * math.log(1 / RULE.fraction)
        assert (
            0.035 <= math.exp(-plateau.iteration / tau) <= RULE.fraction
        )  # the share of the way still to go


def test_a_cost_still_moving_when_its_budget_ends_has_no_plateau():
    """A steady decline (a slow critic), an approach cut short (a quarter of the way still to go), and
    fewer than 2W logged points are flagged, never given a plateau."""
    steady = 1.0 - np.arange(500) / 500
    cut_short = exponential(200.0, 300)
    for costs in (steady, cut_short, exponential(2.0, 2 * RULE.window - 1)):
        assert cost_plateau(np.arange(len(costs)), costs, RULE) == Plateau(False)


def test_a_noisy_cost_plateaus_near_its_noiseless_point():
    rng = np.random.default_rng(0)
    costs = exponential(20.0, 400, 0.7) + rng.normal(0.0, 0.002, 400)
    plateau = cost_plateau(np.arange(400), costs, RULE)
    assert plateau.reached and 50 <= plateau.iteration <= 90  # noiseless: 65


def synthetic_probe(critic: str, costs: np.ndarray, norms: np.ndarray, cosine_every: int) -> pd.DataFrame:
    """probe.csv rows of one critic against one snapshot, logged every 5 D iterations, with the transport
    cosine at every cosine_every-th logged point (its value: the iteration / 1000)."""
    iterations = 5 * np.arange(len(costs))
    at_variance = np.arange(len(costs)) % cosine_every == 0
    return pd.DataFrame(
        {
            "snapshot_iteration": 90,
            "snapshot_epoch": 1.0,
            "iteration": iterations,
            "critic": critic,
            "d_loss": costs,
            "grad_norm_generator": norms,
            "grad_cosine_transport_generator": np.where(at_variance, iterations / 1000, np.nan),
        }
    )


def test_critics_csv_compares_each_gradient_at_its_critics_plateau():
    """grad_norm_plateau_over_start is the geometric mean of the norm over the W logged points ending at the
    plateau over its start value; the excursion is read up to the plateau; the cosine is the first one
    measured at or after it. A critic still moving has blanks and the flag."""
    norms = 3.0 * 10 ** (2 * (1 - np.exp(-np.arange(200) / 10)))  # grows 2 orders
    settled = synthetic_probe("wgan_gp", exponential(10.0, 200, 0.3, -5.0), norms, 8)
    moving = synthetic_probe("wgan", 1.0 - np.arange(200) / 200, norms, 8)
    table = critics_table(pd.concat([settled, moving]), 10, RULE, {"wgan_gp": ["wasserstein"]})
    assert list(table.columns) == columns_of("critics.csv")
    row, flagged = table.iloc[0], table.iloc[1]
    index = cost_plateau(settled["iteration"].to_numpy(), settled["d_loss"].to_numpy(), RULE).index
    assert row["plateau_reached"] and row["plateau_iteration"] == 5 * index
    window = norms[index - RULE.window + 1 : index + 1]
    assert row["grad_norm_plateau_over_start"] == pytest.approx(np.exp(np.log(window).mean()) / norms[0])
    assert 1.0 < row["largest_excursion_to_plateau_orders"] < row["largest_excursion_orders"] < 2.0
    first_cosine = 5 * 8 * math.ceil(index / 8)  # the first variance point at or after the plateau
    assert row["transport_cosine_plateau"] == pytest.approx(first_cosine / 1000)
    assert not flagged["plateau_reached"]
    assert flagged[["plateau_iteration", *columns_of("critics.csv", group=PLATEAU_GRADIENT)]].isna().all()
    axis = draw_critics_figure(pd.concat([settled, moving]), table, 10).axes[0]  # one snapshot: one panel
    dots = [line for line in axis.get_lines() if line.get_marker() == "o"]
    assert [list(dot.get_xdata()) for dot in dots] == [[5 * index]]  # the settled critic's plateau only
    assert 1 < dots[0].get_ydata()[0] < 100  # on the normalized axis: the norm over its start
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["wgan_gp", "wgan (no plateau)"]


def band_table(wgan_gp: list[float | None], minimax: list[float]) -> pd.DataFrame:
    """critics.csv's columns that the band claim reads, one row per snapshot (epochs 1, 2, ...); None: the
    critic's cost did not plateau. The same excursion up to the plateau and over the whole probe (WGAN-GP's
    claim reads the first, its minimax check the second)."""
    rows = [
        {
            "critic": critic,
            "snapshot_iteration": epoch,
            "column": column,
            "plateau_iteration": None if v is None else 100,
            "largest_excursion_to_plateau_orders": v,
            "largest_excursion_orders": v,
        }
        for critic, column, values in (
            ("wgan_gp", "grad_norm_generator", wgan_gp),
            ("gan", "grad_norm_minimax", minimax),
        )
        for epoch, v in enumerate(values, start=1)
    ]
    columns = [
        "critic",
        "snapshot_iteration",
        "column",
        "plateau_iteration",
        "largest_excursion_to_plateau_orders",
        "largest_excursion_orders",
    ]
    return pd.DataFrame(rows, columns=columns)


def test_the_wgan_gp_claim_holds_within_two_orders_up_to_its_plateau_and_fails_beyond() -> None:
    held = critics_claims(band_table([0.2, 0.5, 1.9], [2.6, 2.5, 1.9]), {})
    assert held["claim"]["holds"] and not held["same_test_on_minimax"]["holds"]
    assert "to its plateau" in held["claim"]["claim"]  # says what point is compared
    vanished = critics_claims(band_table([0.2, 3.1, 0.4], []), {})["claim"]  # one vanished
    assert not vanished["holds"] and vanished["snapshot_holds"] == [True, False, True]
    assert (vanished["id"], vanished["snapshots"]) == ("critics_wgan_gp_band", ["1", "2", "3"])
    unsettled = critics_claims(band_table([0.2, None, 0.4], []), {})["claim"]  # one never plateaued
    assert not unsettled["holds"] and unsettled["measured"] == [0.2, None, 0.4]
    assert unsettled["snapshot_holds"] == [True, False, True]
    blind = critics_claims(band_table([0.2, 0.5, 1.9], [0.8, 0.5, 1.9]), {})  # minimax stayed in the band
    assert blind["same_test_on_minimax"]["holds"] and blind["claim"]["holds"] is None  # shows nothing
    assert "over the whole probe" in blind["same_test_on_minimax"]["claim"]
    unmeasured = critics_claims(band_table([], []), {})
    assert unmeasured["claim"]["holds"] is False  # not measured: not a pass
    assert unmeasured["same_test_on_minimax"]["holds"] is None  # critic=gan not probed: shows nothing


# ----------------------------------------------------------------------------- end to end
def test_experiment_critics_end_to_end(tmp_path: Path) -> None:
    overrides = ["probe.iterations=6", "probe.variance_every=6", "probe.critics_slow_iterations=12"]
    summary = run(compose_config([*TINY, "experiment=critics", *overrides]), tmp_path)
    probe = pd.read_csv(tmp_path / "probe.csv")
    assert list(dict.fromkeys(probe["critic"])) == CRITICS
    lengths = probe.groupby("critic")["iteration"].max().to_dict()
    assert lengths == {critic: 12 if critic in ("wgan", "wgan_gp") else 6 for critic in CRITICS}
    probe = probe[probe["iteration"] <= 6]  # below: what every critic logged (the slow two also 9 and 12)
    assert len(probe) == len(CRITICS) * 2 * 3  # 2 snapshots, logged at iterations 0 (the fresh D), 3 and 6
    by_critic = probe.groupby("critic")
    assert by_critic["grad_norm_generator"].count().to_dict() == {
        "gan": 0,
        "gan_r1": 0,
        "hinge": 6,
        "linear": 0,  # the control: no gradient of G
        "lsgan": 6,
        "wgan": 6,
        "wgan_gp": 6,
    }
    assert by_critic["grad_norm_minimax"].count()[["gan", "gan_r1"]].tolist() == [6, 6]
    assert by_critic["d_accuracy_heldout"].count()[["wgan", "wgan_gp"]].tolist() == [0, 0]
    inputs = probe[["input_grad_norm_real", "input_grad_norm_fake"]]
    at_variance_points = probe["iteration"].isin([0, 6])  # variance_every=6, from the fresh D
    assert (inputs[at_variance_points] > 0).all().all() and inputs[~at_variance_points].isna().all().all()
    norms = ["grad_norm_minimax", "grad_norm_nonsaturating", "grad_norm_generator"]
    cosines = [column.replace("grad_norm", "grad_cosine_transport") for column in norms]
    at_points = probe[
        at_variance_points
    ]  # a cosine beside each measured norm there (linear: none), else none
    assert (at_points[cosines].notna().to_numpy() == at_points[norms].notna().to_numpy()).all()
    assert (
        at_points[cosines].notna().any().all() and probe.loc[~at_variance_points, cosines].isna().all().all()
    )
    assert undeclared_columns(tmp_path) == {}  # critics.csv too
    table = pd.read_csv(tmp_path / "critics.csv")
    assert set(table["critic"]) == set(CRITICS) - {"linear"}  # the control gives G no gradient: no rows
    assert len(table) == 2 * 8  # gan and gan_r1: two costs each
    assert table[["transport_cosine_start", "transport_cosine_end"]].abs().le(1).all().all()
    assert not table["plateau_reached"].any()  # 3 logged points per critic: too few to tell a plateau
    assert table[["plateau_iteration", *columns_of("critics.csv", group=PLATEAU_GRADIENT)]].isna().all().all()
    assert summary["critics_claims"]["claim"]["measured"] == [None, None]  # not pretended: blank, fails
    assert summary["critics_claims"]["claim"]["claim"].startswith("the WGAN-GP generator gradient")
    for name in ("critics", "critics_input", "fig1", "fig2", "fig3"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000
    assert "Which generator costs survive" in (tmp_path / "report.md").read_text()


def test_a_critic_with_its_own_budget_trains_that_long(tmp_path: Path) -> None:
    """critic.<name>.iterations: that critic's D trains for its own number of iterations (the others for
    probe.iterations), and the dry run counts it."""
    short = [*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=6", "critic=[gan,hinge]"]
    cfg = compose_config([*short, "critic.hinge.iterations=9"])
    assert "2 critics (iterations: gan 6, hinge 9) = 15 iterations" in probe_line(
        cfg, torch.device("cpu"), None, [24]
    )
    run(cfg, tmp_path)
    probe = pd.read_csv(tmp_path / "probe.csv")
    assert probe.groupby("critic")["iteration"].max().to_dict() == {"gan": 6, "hinge": 9}


def test_a_critic_sweep_over_seeds_aggregates_by_critic(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    short = [*TINY, "train.epochs=1", "train.snapshot_epochs=[1]", "probe.iterations=6"]
    done = run_cli("-m", *short, "critic=gan,wgan_gp", "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert plot_main([str(sweep)]) == 0
    results = pd.read_csv(sweep / "results.csv")
    assert results.groupby("critic")["run"].nunique().to_dict() == {"gan": 2, "wgan_gp": 2}
    assert '"swept_keys": [\n    "seed"\n  ]' in (sweep / "aggregate.json").read_text()  # not critic.*
    assert (sweep / "figures" / "critics.png").stat().st_size > 10_000


def test_the_sweep_critics_figure_divides_each_run_by_its_own_start() -> None:
    """aggregate.over_start: each run's norms over that run's iteration-0 value, so critics whose gradients
    differ by orders share the figure's one axis; a run without a positive start is left out."""
    rows = pd.DataFrame(
        {
            "run": ["a", "a", "a", "b", "b", "c", "c"],
            "iteration": [0, 5, 10, 0, 5, 0, 5],
            "grad_norm_generator": [4.0, 2.0, 1.0, 1e-6, 1e-3, 0.0, 1.0],
        }
    )
    normalized = over_start(rows, "grad_norm_generator")
    assert normalized["grad_norm_generator"].tolist() == [1.0, 0.5, 0.25, 1.0, pytest.approx(1e3)]
    assert set(normalized["run"]) == {"a", "b"}
