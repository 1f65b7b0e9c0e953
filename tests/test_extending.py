"""Extension points (docs/extending.md): a critic objective, G and D, and a dataset written in the user's own
module, outside the package, chosen from the user's own config folder; refused in one line before training
when they cannot be imported or break their protocol; their source in the cache key."""

from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from omegaconf import OmegaConf

from gan_repro.cache import key_of, probe_inputs, training_inputs
from gan_repro.config import check_config, compose
from gan_repro.critics import probe_critics
from gan_repro.data import FloatImages, TensorImages, user_images
from gan_repro.errors import ConfigError
from gan_repro.losses import Objective
from gan_repro.models import build_discriminator
from gan_repro.probe import generator_grad_norms, scaled_cost_gradients
from gan_repro.transport import signed_directions
from tests.helpers import REPO, TINY, run_cli

pytestmark = pytest.mark.integration

MODULE = "user_gan_extension"  # the user's module: one name per test session (Python caches modules)
USER_MODULE = '''
    """A user's critic objective, networks and dataset, outside gan_repro."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from gan_repro.losses import Objective


    class SmoothedLogistic(Objective):
        """The logistic D with one-sided label smoothing; G's cost -log D, written by the user."""

        threshold = 0.0
        builtin_costs = ("nonsaturating", "minimax")

        def __init__(self, smoothing=0.1):
            self.smoothing = smoothing

        def discriminator_loss(self, real, fake):
            target = 1.0 - self.smoothing
            real_term = target * F.softplus(-real) + (1 - target) * F.softplus(real)
            return 0.5 * (real_term.mean() + F.softplus(fake).mean())

        def generator_cost(self, fake):
            return F.softplus(-fake).mean()


    class ConstantLoss(SmoothedLogistic):
        def discriminator_loss(self, real, fake):
            return torch.tensor(1.0)  # not computed from D's outputs


    class TinyGenerator(nn.Module):
        def __init__(self, *, nz, image_size, channels, hidden=32):
            super().__init__()
            self.shape = (channels, image_size, image_size)
            self.net = nn.Sequential(
                nn.Linear(nz, hidden), nn.ReLU(), nn.Linear(hidden, channels * image_size**2), nn.Tanh()
            )

        def forward(self, z):
            return self.net(z).view(z.shape[0], *self.shape)


    class TinyDiscriminator(nn.Module):
        def __init__(self, *, image_size, channels, hidden=32):
            super().__init__()
            self.net = nn.Sequential(
                nn.Flatten(), nn.Linear(channels * image_size**2, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            )

        def forward(self, images):
            return self.net(images)  # (B, 1) unless flatten is asked for
'''
USER_MODULE_END = '''

    class FlatDiscriminator(TinyDiscriminator):
        def forward(self, images):
            return self.net(images).flatten()  # (B,)


    def blobs(*, image_size, channels, count=384, seed=0):
        """Gaussian blobs at random places, uint8 (N, C, S, S)."""
        rng = torch.Generator().manual_seed(seed)
        grid = torch.linspace(-1, 1, image_size)
        y, x = torch.meshgrid(grid, grid, indexing="ij")
        centers = torch.rand(count, 2, generator=rng) * 1.2 - 0.6
        squared = (x - centers[:, 0, None, None]) ** 2 + (y - centers[:, 1, None, None]) ** 2
        images = torch.exp(-squared / 0.05)[:, None].expand(count, channels, image_size, image_size)
        return (images * 255).round().to(torch.uint8)


    def float_images(*, image_size, channels, low=-1.0):
        """Float images in [low, 1]."""
        return torch.linspace(low, 1, 8 * channels * image_size**2).view(8, channels, image_size, image_size)


    def wrong_shape(*, image_size, channels):
        """One row too many in every image."""
        return torch.zeros(4, channels, image_size + 1, image_size, dtype=torch.uint8)


    class ImageList(torch.utils.data.Dataset):
        def __init__(self, *, image_size, channels):
            self.images = float_images(image_size=image_size, channels=channels)

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            return self.images[index]
'''
CRITIC_YAML = """
    # @package critic.smooth
    architecture: model
    objective:
      _target_: {module}.SmoothedLogistic
      smoothing: 0.1
    generator_costs: [objective, nonsaturating]
    penalty: none
    penalty_weight: 0
    clip: null
    norm: batch
    optimizer: adam
    lr: ${{train.lr}}
    beta1: ${{train.beta1}}
    beta2: ${{train.beta2}}
    alpha: null
"""
MODEL_YAML = """
    name: tiny
    nz: 16
    generator:
      _target_: {module}.TinyGenerator
      hidden: 32
    discriminator:
      _target_: {module}.FlatDiscriminator
      hidden: 32
"""
DATASET_YAML = """
    name: blobs
    root: null
    image_size: 16
    channels: 1
    images:
      _target_: {module}.blobs
      count: 384
"""


def write(path: Path, text: str) -> Path:
    """text, dedented, at path (folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def write_project(folder: Path, module: str) -> Path:
    """A user's project: the module, and its config folder with a critic, a model and a dataset."""
    write(folder / f"{module}.py", USER_MODULE + USER_MODULE_END)
    conf = folder / "conf"
    write(conf / "critic" / "smooth.yaml", CRITIC_YAML.format(module=module))
    write(conf / "model" / "tiny.yaml", MODEL_YAML.format(module=module))
    write(conf / "dataset" / "blobs.yaml", DATASET_YAML.format(module=module))
    return conf


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The user's project folder (module and conf/), written once."""
    folder = tmp_path_factory.mktemp("user_project")
    write_project(folder, MODULE)
    return folder


@pytest.fixture
def importable(project: Path, monkeypatch) -> Path:
    """The project's module importable in this process, as PYTHONPATH makes it for the command line."""
    monkeypatch.syspath_prepend(str(project))
    return project


def user_env(project: Path) -> dict[str, str]:
    """The command line's environment: this checkout and the user's folder on PYTHONPATH."""
    return {"PYTHONPATH": os.pathsep.join([str(REPO), str(project)])}


def replaced(overrides: list[str], *changes: str) -> list[str]:
    """overrides with the keys of `changes` set to their values there (others kept)."""
    keys = {change.split("=", 1)[0] for change in changes}
    return [o for o in overrides if o.split("=", 1)[0] not in keys] + list(changes)


# ----------------------------------------------------------------------------- through the command line
def test_a_critic_from_outside_the_package_runs_through_the_command_line(project: Path, tmp_path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(
        *TINY,
        "critic=smooth",
        "--config-dir",
        str(project / "conf"),
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        env_extra=user_env(project),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = pd.read_csv(run_dir / "probe.csv")
    rows = probe[probe["critic"] == "smooth"]
    assert len(rows) == 2 * 5  # two snapshots, iterations 0, 3, 6, 9, 12
    own, builtin = rows["grad_norm_generator"], rows["grad_norm_nonsaturating"]
    assert own.notna().all() and (own > 0).all() and own.map(math.isfinite).all()
    # the user's cost is -log D: its norm (slopes by autograd) equals the built-in one (slopes in log form)
    assert ((own / builtin - 1).abs() < 1e-9).all()
    assert rows["d_accuracy"].notna().all()  # its threshold (0) gives an accuracy
    assert f"'hydra.searchpath=[file://{project / 'conf'}]'" in (run_dir / "report.md").read_text()


def test_a_model_and_a_dataset_from_outside_the_package_run_through_the_command_line(
    project: Path, tmp_path
) -> None:
    run_dir = tmp_path / "run"
    overrides = replaced(TINY, "dataset=blobs", "model=tiny")
    result = run_cli(
        *overrides,
        f"hydra.searchpath=[file://{project / 'conf'}]",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        env_extra=user_env(project),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["dataset"], summary["model"]) == ("blobs", "tiny")
    probe = pd.read_csv(run_dir / "probe.csv")
    gan = probe[probe["critic"] == "gan"]
    assert len(gan) == 10 and gan["grad_norm_nonsaturating"].map(math.isfinite).all()
    checkpoint = torch.load(next((run_dir / "checkpoints").glob("iteration_*.pt")), weights_only=False)
    assert checkpoint["generator"]["net.0.weight"].shape == (32, 16)  # the user's G: Linear(nz=16, 32)
    assert "384 images" in (run_dir / "log.txt").read_text()  # the user's blobs, not the digits
    assert f"'hydra.searchpath=[file://{project / 'conf'}]'" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("flags", [(), ("--cfg", "job")])
def test_an_unimportable_target_is_refused_in_one_line_before_training(
    project: Path, tmp_path, flags: tuple[str, ...]
) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(
        *TINY,
        "critic=smooth",
        "critic.smooth.objective._target_=no_such_module.Objective",
        "--config-dir",
        str(project / "conf"),
        f"hydra.run.dir={run_dir}",
        *flags,
        cwd=tmp_path,
        env_extra=user_env(project),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: critic.smooth.objective._target_: cannot import 'no_such_module'")
    assert "PYTHONPATH" in lines[0]
    assert not run_dir.exists()  # refused before anything was written


# ----------------------------------------------------------------------------- protocols, in this process
def user_config(project: Path, *overrides: str):
    """The config composed with the user's config folder (as --config-dir adds it), on the tiny setting."""
    return compose(list(replaced(TINY, *overrides)), extra=project / "conf")


SMOOTH, OBJECTIVE = "critic=smooth", "critic.smooth.objective"  # the user's critic, and its objective
NO_SMOOTHING = f"~{OBJECTIVE}.smoothing"  # for a target that takes no smoothing=
ARCHITECTURE = "critic.smooth.architecture"  # the critic's own D (instead of model= or linear)


@pytest.mark.parametrize(
    ("overrides", "setting", "words"),
    [
        ((SMOOTH, f"{OBJECTIVE}._target_={MODULE}.Missing"), f"{OBJECTIVE}._target_", "has no Missing"),
        ((SMOOTH, f"{OBJECTIVE}._target_={MODULE}.TinyGenerator", NO_SMOOTHING), OBJECTIVE, "TypeError"),
        ((SMOOTH, f"+{OBJECTIVE}.margin=1"), OBJECTIVE, "unexpected keyword argument 'margin'"),
        ((SMOOTH, f"{OBJECTIVE}._target_={MODULE}.ConstantLoss"), OBJECTIVE, "computed from"),
        (
            (SMOOTH, f"{OBJECTIVE}._target_=torch.nn.Identity", NO_SMOOTHING),
            f"{OBJECTIVE}._target_",
            "Objective",
        ),
        ((SMOOTH, "critic.smooth.generator_costs=[wasserstein]"), "critic.smooth.generator_costs", "minimax"),
        (
            ("model=tiny", f"model.discriminator._target_={MODULE}.TinyDiscriminator"),
            "model.discriminator",
            "(2,)",
        ),
        ((SMOOTH, f"{ARCHITECTURE}={{_target_:{MODULE}.TinyDiscriminator}}"), ARCHITECTURE, "(2,)"),
        (("model=tiny", "~model.discriminator"), "model.discriminator", "must be"),
        (("model=tiny", "model.name=dcgan"), "model.name", "own name"),
        (("dataset=blobs", "dataset.name=digits"), "dataset.name", "own name"),
        (("dataset=blobs", "dataset.images._target_=nowhere.blobs"), "dataset.images._target_", "PYTHONPATH"),
    ],
)
def test_a_target_that_breaks_its_protocol_is_named(
    importable: Path, overrides: tuple[str, ...], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as error:
        check_config(user_config(importable, *overrides))
    assert error.value.setting == setting
    assert words in error.value.message


def test_the_users_targets_pass_the_checks(importable: Path) -> None:
    check_config(user_config(importable, "critic=[gan,smooth]", "model=tiny", "dataset=blobs"))


def test_a_critic_may_bring_its_own_discriminator(importable: Path) -> None:
    cfg = user_config(importable, SMOOTH, f"{ARCHITECTURE}={{_target_:{MODULE}.FlatDiscriminator,hidden:8}}")
    check_config(cfg)
    (critic,) = probe_critics(cfg.critic)
    assert isinstance(critic.objective, Objective) and critic.generator_costs[1] == "nonsaturating"
    assert critic.generator_costs[0] is critic.objective  # `objective`: the objective's own cost
    discriminator = build_discriminator(
        cfg.model, image_size=16, channels=1, architecture=critic.architecture
    )
    assert type(discriminator).__name__ == "FlatDiscriminator" and discriminator.net[1].out_features == 8


@pytest.mark.parametrize(
    ("target", "expected"),
    [("blobs", TensorImages), ("float_images", FloatImages), ("ImageList", None)],
)
def test_a_users_images_become_a_dataset(importable: Path, target: str, expected: type | None) -> None:
    node = OmegaConf.create({"_target_": f"{MODULE}.{target}"})
    dataset = user_images(node, 16, 1)
    assert isinstance(dataset, expected or type(dataset)) and type(dataset).__name__ != "Subset"
    assert dataset[0].shape == (1, 16, 16) and dataset[0].dtype == torch.float32
    assert -1 <= float(dataset[0].min()) and float(dataset[0].max()) <= 1


def test_a_users_images_out_of_range_or_shape_are_refused(importable: Path) -> None:
    with pytest.raises(ConfigError, match=r"float values in \[-2, 1\]") as error:
        user_images(OmegaConf.create({"_target_": f"{MODULE}.float_images", "low": -2.0}), 16, 1)
    assert error.value.setting == "dataset.images"
    with pytest.raises(
        ConfigError, match=r"shape \(4, 1, 17, 16\); it must return uint8 images \(N, 1, 16, 16\)"
    ):
        user_images(OmegaConf.create({"_target_": f"{MODULE}.wrong_shape"}), 16, 1)


# ----------------------------------------------------------------------------- the cache key
def test_editing_the_users_module_changes_the_cache_key(tmp_path, monkeypatch) -> None:
    conf = write_project(tmp_path, "edited_nets")  # the networks' module, and the config folder
    write(tmp_path / "edited_critic.py", USER_MODULE)  # the objective's module
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = compose(
        replaced(
            TINY,
            "critic=[gan,smooth]",
            "critic.smooth.objective._target_=edited_critic.SmoothedLogistic",
            "model=tiny",
            "cache=true",
        ),
        extra=conf,
    )
    device = torch.device("cpu")

    def keys() -> tuple[str, str]:
        return key_of(training_inputs(cfg, device)), key_of(probe_inputs(cfg, device))

    train, probe = keys()
    assert keys() == (train, probe)  # the same files: the same keys
    with open(tmp_path / "edited_critic.py", "a") as handle:
        handle.write("\n# the user edits the critic's module\n")
    train_after_critic, probe_after_critic = keys()
    assert probe_after_critic != probe and train_after_critic == train  # only the probe uses the critic
    with open(tmp_path / "edited_nets.py", "a") as handle:
        handle.write("\n# the user edits the networks' module\n")
    train_after_nets, probe_after_nets = keys()
    assert train_after_nets != train and probe_after_nets != probe_after_critic


def test_the_files_under_a_users_dataset_root_are_in_the_cache_key(importable: Path, tmp_path) -> None:
    write(tmp_path / "data" / "images.txt", "the files the user's loader reads\n")
    cfg = user_config(importable, "dataset=blobs", f"dataset.root={tmp_path / 'data'}", "cache=true")
    before = key_of(training_inputs(cfg, torch.device("cpu")))
    write(tmp_path / "data" / "images.txt", "edited\n")
    assert key_of(training_inputs(cfg, torch.device("cpu"))) != before


# ----------------------------------------------------------------------------- the gradient, exactly
class SoftplusCost(Objective):
    """-log D written by a user: G's cost softplus(-l), its slopes by the default (float64 autograd)."""

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator_cost(self, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake).mean()


class LogFormCost(SoftplusCost):
    """The same cost with its slopes given in log form (docs/extending.md): log sigmoid(-l) - log B."""

    def generator_cost(self, fake: torch.Tensor) -> torch.Tensor:
        raise AssertionError("with log_cost_slopes given, the probe takes no slope by autograd")

    def log_cost_slopes(self, fake: torch.Tensor) -> torch.Tensor:
        logits = fake.detach().double()
        return -F.softplus(logits) - math.log(logits.numel())

    def cost_slope_signs(self, fake: torch.Tensor) -> torch.Tensor:
        return -torch.ones_like(fake, dtype=torch.float64)  # d cost / d l = -sigmoid(-l) / B < 0


def user_and_builtin_norms(cost: Objective, bias: float) -> tuple[float, float]:
    """grad_norm_generator for the user's cost and grad_norm_nonsaturating, on a small G and a linear D whose
    outputs on the fakes are near `bias` (large: D sure the fakes are real, -log D's slope tiny)."""
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(12, 1), nn.Flatten(0))
    with torch.no_grad():
        discriminator[1].bias.fill_(bias)
    norms = generator_grad_norms(
        generator, discriminator, torch.randn(8, 4), kinds=(cost, "nonsaturating"), batched=False
    )
    return float(norms["grad_norm_generator"]), float(norms["grad_norm_nonsaturating"])


@pytest.mark.parametrize("bias", [0.0, 60.0, 200.0])  # at 200, |d cost / d l| = sigmoid(-200) ~ 1e-87
def test_a_users_cost_gradient_matches_the_builtin_one_down_to_tiny_values(bias: float) -> None:
    user, builtin = user_and_builtin_norms(SoftplusCost(), bias)
    assert 0 < user < math.inf and user == pytest.approx(builtin, rel=1e-9)
    if bias == 200.0:
        assert user < 1e-80  # no underflow to 0 in fp32: the slopes were taken in float64


@pytest.mark.parametrize("bias", [0.0, 200.0])
def test_slopes_given_in_log_form_are_used_as_they_are(bias: float) -> None:
    user, builtin = user_and_builtin_norms(LogFormCost(), bias)
    assert 0 < user and user == pytest.approx(builtin, rel=1e-12)


@pytest.mark.parametrize("cost", [SoftplusCost(), LogFormCost()], ids=["autograd", "log form"])
def test_a_users_cost_gradient_points_where_the_builtin_one_does(cost: Objective) -> None:
    """The transport cosine needs the gradient's direction, not only its norm: the user's -log D, by
    autograd or in log form, gives the built-in -log D's direction (a wrong sign flips the cosine)."""
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2)))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(12, 1), nn.Flatten(0))
    kinds = (cost, "nonsaturating")
    _, grads, _, _ = scaled_cost_gradients(generator, discriminator, torch.randn(8, 4), kinds=kinds)
    user, builtin = signed_directions(grads, kinds)
    assert torch.dot(user, builtin) / (user.norm() * builtin.norm()) == pytest.approx(1.0, abs=1e-9)
