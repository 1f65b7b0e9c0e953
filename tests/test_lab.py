"""The theory lab: each experiment's agreement with the paper's formula, on a small instance (seconds)."""

from __future__ import annotations

import importlib
import json
import math
import re

import numpy as np
import pytest
import torch
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf
from scipy import stats

from gan_repro.cli import plot_main
from gan_repro.config import check_rules
from gan_repro.errors import ConfigError
from gan_repro.lab import cauchy, gradient_identity, noise_bound
from gan_repro.lab.common import LOG_2, Mixture, gauss_legendre, jsd_from_log_densities
from gan_repro.lab.optimal_discriminator import compare, quadrature_grid
from gan_repro.lab.runner import LABS, run_lab
from tests.helpers import TINY, compose_config

pytestmark = pytest.mark.integration

LAB_TINY = ["quiet=true", "device=cpu", "plot.formats=[png]"]


def lab_config(experiment: str, overrides: list[str] | None = None) -> DictConfig:
    """The composed config of experiment=<experiment> with these overrides."""
    return compose_config([f"experiment={experiment}", *LAB_TINY, *(overrides or [])])


def mixture(means, stds, weights=None) -> Mixture:
    return Mixture(
        torch.tensor(weights or [1.0] * len(means), dtype=torch.float64) / len(means),
        torch.tensor(means, dtype=torch.float64).reshape(len(means), -1),
        torch.tensor(stds, dtype=torch.float64),
    )


# --- shared quadrature --------------------------------------------------------------------------------
def test_jsd_quadrature_limits():
    """JSD is 0 for equal densities, log 2 for disjoint ones, and matches a 1-D closed-form check."""
    nodes, weights = gauss_legendre(list(np.linspace(-60, 60, 61)), nodes_per_segment=50)
    x, w = torch.from_numpy(nodes)[:, None], torch.from_numpy(weights)
    same = mixture([[0.0]], [1.0])
    assert jsd_from_log_densities(same.log_prob(x), same.log_prob(x), w) == pytest.approx(0.0, abs=1e-12)
    far = mixture([[40.0]], [1.0])
    assert jsd_from_log_densities(same.log_prob(x), far.log_prob(x), w) == pytest.approx(LOG_2, abs=1e-10)


def test_optimal_d_value_is_two_jsd_minus_two_log_two_by_quadrature():
    """D* itself reaches 2 JSD - 2 log 2 on the quadrature grid (the formula the lab compares against)."""
    real, fake = mixture([[-1.0], [1.5]], [0.5, 0.7]), mixture([[0.0]], [1.2])
    nodes, weights = quadrature_grid(real, fake, 400)
    log_real, log_fake = real.log_prob(nodes), fake.log_prob(nodes)
    log_d = log_real - torch.logaddexp(log_real, log_fake)
    log_one_minus_d = log_fake - torch.logaddexp(log_real, log_fake)
    value = float((weights * (log_real.exp() * log_d + log_fake.exp() * log_one_minus_d)).sum())
    jsd = jsd_from_log_densities(log_real, log_fake, weights)
    assert value == pytest.approx(2 * jsd - 2 * LOG_2, abs=1e-10)


# --- 1. optimal discriminator ------------------------------------------------------------------------
def test_trained_discriminator_matches_optimal_one():
    cfg = lab_config(
        "lab_optimal_d",
        ["lab.steps=600", "lab.batch_size=512", "lab.eval_samples=20000", "lab.quadrature_nodes=200"],
    )
    problem = cfg.lab.problems.mixture_1d
    row, grid = compare(
        "mixture_1d",
        Mixture.from_config(problem.real, "real"),
        Mixture.from_config(problem.fake, "fake"),
        cfg.lab,
        seed=0,
    )
    assert row["mean_abs_error"] < 0.03
    assert abs(row["value_trained"] - row["value_optimal"]) < 0.02
    assert abs(row["value_sampled"] - row["value_optimal"]) < 0.03  # the sampled d_loss, with sampling error
    same = cfg.lab.problems.identical_1d
    row, _ = compare(
        "identical_1d",
        Mixture.from_config(same.real, "real"),
        Mixture.from_config(same.fake, "fake"),
        cfg.lab,
        seed=0,
    )
    assert row["value_optimal"] == pytest.approx(-math.log(4), abs=1e-9)
    assert row["value_trained"] == pytest.approx(-math.log(4), abs=5e-3)
    assert set(grid.columns) >= {"x", "d_trained", "d_optimal", "p_real", "p_fake"}


def test_mixture_config_errors_name_the_setting():
    with pytest.raises(ConfigError, match="lab.problems.bad.real"):
        Mixture.from_config(
            OmegaConf.create({"weights": [1.0], "means": [[0.0]], "stds": [-1.0]}), "lab.problems.bad.real"
        )


# --- 2. Theorem 2.5 ----------------------------------------------------------------------------------
def test_theorem_2_5_identities_hold_to_quadrature_precision():
    cfg = lab_config("lab_gradient_identity", ["lab.samples=2000", "lab.hermite_nodes=120"])
    rows = gradient_identity.check_theta((1.0, 0.8), (0.0, 1.0), cfg.lab, seed=0)
    assert {row["cost"] for row in rows} == {"nonsaturating", "minimax"}
    for row in rows:
        assert row["relative_error"] < 1e-6, row
        assert row["relative_error_sampled"] > row["relative_error"]  # sampling is far less exact


def test_theorem_2_5_would_fail_with_the_other_divergence():
    """The check has teeth: E[-grad log D*] is not grad 2 JSD (the minimax identity's right side)."""
    cfg = lab_config("lab_gradient_identity", ["lab.samples=100"])
    checked = gradient_identity.check_theta((1.0, 0.8), (0.0, 1.0), cfg.lab, seed=0)
    rows = {(r["cost"], r["component"]): r for r in checked}
    nonsaturating = np.array([rows["nonsaturating", c]["expectation_quadrature"] for c in ("mean", "std")])
    two_jsd = np.array([rows["minimax", c]["divergence_gradient"] for c in ("mean", "std")])
    assert np.linalg.norm(nonsaturating - two_jsd) > 0.1 * np.linalg.norm(two_jsd)


# --- 3. Theorems 2.1-2.4 on curves -------------------------------------------------------------------
def test_manifold_discriminator_becomes_perfect_and_minimax_gradient_vanishes(tmp_path):
    cfg = lab_config(
        "lab_manifold",
        ["lab.iterations=1500", "lab.log_every=50", "lab.grid_points=20", "lab.min_decay_orders=1.0"],
    )
    summary = run_lab(cfg, run_dir=tmp_path, device=torch.device("cpu"))
    assert summary["final_accuracy"] == 1.0
    assert summary["minimax_decay_orders"] >= 1.0
    assert summary["grad_norm_nonsaturating"][1] > summary["grad_norm_minimax"][1]
    assert all(claim["holds"] for claim in summary["claims"])
    assert (tmp_path / "figures" / "manifold.png").stat().st_size > 10_000


# --- 4. Theorem 2.6 ----------------------------------------------------------------------------------
def test_hill_estimator_separates_cauchy_from_normal():
    rng = np.random.default_rng(0)
    heavy = stats.cauchy.rvs(size=50_000, random_state=rng)
    assert cauchy.hill_tail_index(heavy, 0.02) == pytest.approx(1.0, abs=0.15)
    assert cauchy.hill_tail_index(rng.normal(size=50_000), 0.02) > 3.0


def test_noisy_discriminator_gradient_is_cauchy_when_noise_dominates():
    gradients, median_optimal = cauchy.noisy_gradients(
        (8.0, 1.0), (0.0, 1.0), 1e-4, draws=5000, batch_size=16, rng=torch.Generator().manual_seed(0)
    )
    assert median_optimal < 1e-10  # D* ~ 0 on P_g: the theorem's setting
    assert 0.7 <= cauchy.hill_tail_index(gradients, 0.02) <= 1.4
    location, scale = stats.cauchy.fit(gradients)
    assert stats.kstest(gradients, "cauchy", args=(location, scale)).statistic < 0.03
    noiseless, _ = cauchy.noisy_gradients(
        (8.0, 1.0), (0.0, 1.0), 1e-300, draws=2000, batch_size=16, rng=torch.Generator().manual_seed(0)
    )
    assert cauchy.hill_tail_index(noiseless, 0.02) > 2.0  # D*'s own gradient is not heavy-tailed


# --- 5. Theorem 3.3 ----------------------------------------------------------------------------------
def test_wasserstein_1d_matches_scipy():
    points_p, weights_p = np.array([0.0, 1.0, 2.5]), np.array([0.2, 0.5, 0.3])
    points_q, weights_q = np.array([0.4, 3.0]), np.array([0.6, 0.4])
    expected = stats.wasserstein_distance(points_p, points_q, weights_p, weights_q)
    measured = noise_bound.wasserstein_1d(points_p, weights_p, points_q, weights_q)
    assert measured == pytest.approx(expected, rel=1e-12)


def test_noisy_jsd_limits():
    real = (np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    noise = noise_bound.truncated_noise(0.01, 4.0)
    assert noise_bound.noisy_jsd(real, real, noise, 0.04) == pytest.approx(0.0, abs=1e-12)
    far = (np.array([10.0, 11.0]), np.array([0.5, 0.5]))
    assert noise_bound.noisy_jsd(real, far, noise, 0.04) == pytest.approx(LOG_2, abs=1e-9)


def test_theorem_3_3_bound_holds_end_to_end(tmp_path):
    """Through Hydra's compose API and gan-repro's run(): CSV, summary.json, figure, and a redraw."""
    from gan_repro.pipeline import run

    cfg = lab_config("lab_noise_bound", ["lab.shifts=[0.1,1.0]", "lab.noise_stds=[0.01,0.3]"])
    summary = run(cfg, tmp_path)
    assert summary["holds_at"] == summary["points"] == 4
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["lab"] == "noise_bound" and saved["claims"][0]["holds"]
    (tmp_path / "figures" / "noise_bound.png").unlink()
    assert plot_main([str(tmp_path)]) == 0
    assert (tmp_path / "figures" / "noise_bound.png").is_file()


# --- 6. Lemma 1 --------------------------------------------------------------------------------------
def test_jacobian_rank_of_a_run_snapshot_is_at_most_nz(tiny_run, tmp_path):
    _, run_dir, _ = tiny_run
    cfg = compose_config(
        ["experiment=lab_jacobian", *TINY, "plot.formats=[png]", f"lab.run_dir={run_dir}", "lab.points=2"]
    )
    summary = run_lab(cfg, run_dir=tmp_path, device=torch.device("cpu"))
    for snapshot in summary["snapshots"].values():
        assert snapshot["output_dimension"] == 16 * 16  # 16x16 grey digits
        assert all(0 < rank <= snapshot["nz"] for rank in snapshot["ranks"])
    assert set(summary["snapshots"]) == {"24", "48"}  # G steps: 24 an epoch


def test_jacobian_refuses_a_folder_without_snapshots(tmp_path):
    cfg = compose_config(["experiment=lab_jacobian", *TINY, f"lab.run_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="lab.run_dir"):
        run_lab(cfg, run_dir=tmp_path, device=torch.device("cpu"))


def test_unknown_lab_name_is_refused(tmp_path):
    cfg = lab_config("lab_noise_bound", ["lab.name=nope"])
    with pytest.raises(ConfigError, match="lab.name"):
        run_lab(cfg, run_dir=tmp_path, device=torch.device("cpu"))


# --- every experiment: reached through its config, settings checked before any work -------------------
EXPERIMENTS = {name: "lab_optimal_d" if name == "optimal_discriminator" else f"lab_{name}" for name in LABS}


@pytest.mark.parametrize("name", sorted(LABS))
def test_each_experiment_config_names_run_lab_and_passes_its_rules(name):
    """lab._target_ is the entry point the pipeline calls; the shipped settings pass the module's SETTINGS."""
    cfg = lab_config(EXPERIMENTS[name])
    assert cfg.lab.name == name
    assert get_method(cfg.lab._target_) is run_lab
    check_rules(cfg.lab, importlib.import_module(f"gan_repro.lab.{name}").SETTINGS, prefix="lab.")


@pytest.mark.parametrize(
    "experiment, override, setting",
    [
        ("lab_manifold", "lab.iterations=0", "lab.iterations"),
        ("lab_manifold", "lab.beta1=1.0", "lab.beta1"),
        ("lab_cauchy", "lab.noise_stds=[1e-4,-1.0]", "lab.noise_stds"),
        ("lab_cauchy", "lab.cauchy_index_range=[1.4,0.7]", "lab.cauchy_index_range"),
        ("lab_gradient_identity", "lab.thetas=[[0.0,-1.0]]", "lab.thetas"),
        ("lab_noise_bound", "lab.shifts=[]", "lab.shifts"),
        ("lab_optimal_d", "lab.tolerance.value=0", "lab.tolerance.value"),
        ("lab_jacobian", "lab.points=two", "lab.points"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path, experiment, override, setting):
    """run_lab checks lab.* against the SETTINGS first: the error names the setting; nothing is written."""
    with pytest.raises(ConfigError, match=f"^{re.escape(setting)}: must be"):
        run_lab(lab_config(experiment, [override]), run_dir=tmp_path, device=torch.device("cpu"))
    assert not any(tmp_path.iterdir())


def test_point_masses_need_one_weight_per_point(tmp_path):
    cfg = lab_config("lab_noise_bound", ["lab.real.weights=[1.0]"])
    with pytest.raises(ConfigError, match="lab.real: needs one weight per point"):
        run_lab(cfg, run_dir=tmp_path, device=torch.device("cpu"))


def test_a_bad_lab_setting_is_refused_before_the_run_folder_opens(tmp_path) -> None:
    from gan_repro.pipeline import run

    with pytest.raises(ConfigError, match=r"^lab.iterations: must be a whole number >= 1"):
        run(lab_config("lab_manifold", ["lab.iterations=0"]), tmp_path / "run")
    assert not (tmp_path / "run" / "state.json").exists() and not (tmp_path / "run" / "config.yaml").exists()
    with pytest.raises(ConfigError, match=r"^lab._target_: cannot use 'gan_repro.lab.nowhere'"):
        run(lab_config("lab_manifold", ["lab._target_=gan_repro.lab.nowhere"]), tmp_path / "other")
