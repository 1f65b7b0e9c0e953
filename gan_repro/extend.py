"""Extension points: a user's own critic objective, networks and dataset, named by `_target_` in the user's
config folder (gan-repro --config-dir DIR, or hydra.searchpath=[file://DIR]); docs/extending.md.

    critic.<name>.objective._target_     a losses.Objective subclass            (its keys: keyword arguments)
    critic.<name>.architecture._target_  that critic's D,    called with image_size=, channels= too
    model.generator._target_             G: z (B, nz) -> images (B, C, S, S),    called with nz=, image_size=,
                                         channels= too (model.discriminator must be given with it)
    model.discriminator._target_         D: images (B, C, S, S) -> outputs (B,), called with image_size=,
                                         channels= too
    dataset.images._target_              the images, called with image_size=, channels= too (data.user_images)

A target is a dotted path, module.Name, imported as Python imports anything (its folder on PYTHONPATH, or
installed), and called by Hydra's instantiate with the node's other keys as plain keyword arguments. Each is
checked before any work (config.check_config, so also by --cfg job and dry_run=true): it must import, accept
its arguments, and follow its protocol on a small test batch; else one ConfigError line naming the setting.
The source file of each target's module enters the cache key of the stages that use it (cache.py), so an
edited critic is measured again instead of being read from the cache.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import torch
import torch.nn as nn
from omegaconf import DictConfig, ListConfig

from gan_repro.errors import ConfigError, GanReproError
from gan_repro.files import sha256_file
from gan_repro.losses import OWN_COST, Objective

TARGET = "_target_"
TEST_BATCH = 2  # samples in the protocol checks' test batches (BatchNorm needs more than one)


def has_target(value: Any) -> bool:
    """Whether a config value is a node naming a `_target_` (a user's object), not a built-in's name."""
    return isinstance(value, DictConfig) and TARGET in value


def is_user_model(model_cfg: DictConfig) -> bool:
    """Whether the model node builds a user's networks (model.generator / model.discriminator)."""
    return "generator" in model_cfg or "discriminator" in model_cfg


def is_user_dataset(dataset_cfg: DictConfig) -> bool:
    """Whether the dataset node loads a user's images (dataset.images)."""
    return "images" in dataset_cfg


# ----------------------------------------------------------------------------- import and call
def import_target(setting: str, path: Any) -> tuple[Any, ModuleType]:
    """The object a dotted path names, and the module it was found in; a ConfigError naming `setting`
    (e.g. critic.mine.objective._target_) when it cannot be imported."""
    if not isinstance(path, str) or "." not in path.strip("."):
        raise ConfigError(setting, f"must be a dotted path module.Name, got {path!r}")
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module prefix, then attributes
        name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and (name == error.name or name.startswith(f"{error.name}.")):
                continue  # this prefix is not a module: a shorter one may be
            raise ConfigError(setting, import_failure(name, error)) from None
        except Exception as error:  # the module itself fails: a SyntaxError, an error at import time
            raise ConfigError(setting, import_failure(name, error)) from None
        found: Any = module
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                raise ConfigError(
                    setting,
                    f"{name} ({getattr(module, '__file__', name)}) has no {'.'.join(parts[cut:])}; "
                    f"check the name in {path!r}",
                )
            found = getattr(found, attribute)
        return found, module
    raise ConfigError(
        setting,
        f"cannot import {parts[0]!r} for {path!r}: no module named {parts[0]!r}; put the folder holding "
        f"{parts[0]}.py on PYTHONPATH (PYTHONPATH=/that/folder gan-repro ...), or pip install it",
    )


def import_failure(name: str, error: BaseException) -> str:
    """The message for a module that exists but fails to import."""
    return f"importing {name} failed ({first_line(error)}); fix the module or what it imports"


def first_line(error: BaseException) -> str:
    """`Kind: message` of an error, on one line."""
    text = " ".join(str(error).split())
    return f"{error.__class__.__name__}: {text[:200]}" if text else error.__class__.__name__


def instantiate(setting: str, node: DictConfig, **given: Any) -> Any:
    """Call the node's `_target_` with its other keys (as plain Python values) and `given` as keyword
    arguments (Hydra's instantiate); what the call cannot do is a ConfigError naming the node."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    target = node[TARGET]
    import_target(f"{setting}.{TARGET}", target)
    for key in node:  # nested targets: each imported with its own setting's name
        if has_target(node[key]):
            import_target(f"{setting}.{key}.{TARGET}", node[key][TARGET])
    try:
        return hydra_instantiate(node, _convert_="all", **given)
    except InstantiationException as error:
        cause = error.__cause__ or error
        passed = f" and {', '.join(f'{key}=' for key in given)}" if given else ""
        raise ConfigError(
            setting,
            f"calling {target} failed ({first_line(cause)}); it is called with the keys of {setting} "
            f"besides _target_{passed} as keyword arguments",
        ) from None


# ----------------------------------------------------------------------------- the protocols
def build_objective(setting: str, node: DictConfig) -> Objective:
    """The user's critic objective (critic.<name>.objective), an instance of losses.Objective."""
    objective = instantiate(setting, node)
    if not isinstance(objective, Objective):
        raise ConfigError(
            f"{setting}.{TARGET}",
            f"{node[TARGET]} made a {type(objective).__name__}, not a gan_repro.losses.Objective; subclass "
            "it and define discriminator_loss and generator_cost (docs/extending.md)",
        )
    return objective


def check_objective(setting: str, node: DictConfig, costs: list[str]) -> Objective:
    """The user's objective, built and tried on a test batch of D's outputs: discriminator_loss must give a
    scalar that depends on them, and (with `objective` among the costs) generator_cost a scalar with one
    slope per sample. Returns the objective (its builtin_costs are checked by the caller)."""
    objective = build_objective(setting, node)
    target = node[TARGET]
    real = torch.tensor([1.5, -0.5], requires_grad=True)  # (B,) float32, as D's outputs in a D step
    fake = torch.tensor([-1.0, 0.25], requires_grad=True)
    loss = call_protocol(
        setting, target, "discriminator_loss", lambda: objective.discriminator_loss(real, fake)
    )
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
        grad = ", not computed from them" if isinstance(loss, torch.Tensor) and not loss.requires_grad else ""
        raise ConfigError(
            setting,
            f"{target}.discriminator_loss(real, fake) must return a scalar tensor computed from D's "
            f"outputs real and fake (B,); it returned {describe(loss)}{grad}",
        )
    if OWN_COST not in costs:
        return objective
    cost = call_protocol(setting, target, "generator_cost", lambda: objective.generator_cost(fake))
    if not (isinstance(cost, torch.Tensor) and cost.numel() == 1):
        raise ConfigError(
            setting,
            f"{target}.generator_cost(fake) must return a scalar tensor from D's outputs on G(z) (B,); "
            f"it returned {describe(cost)}",
        )
    slopes = call_protocol(setting, target, "log_cost_slopes", lambda: objective.log_cost_slopes(fake))
    if not (isinstance(slopes, torch.Tensor) and tuple(slopes.shape) == (TEST_BATCH,)):
        raise ConfigError(
            setting,
            f"{target}.log_cost_slopes(fake) must give one log slope per sample, ({TEST_BATCH},); it "
            f"returned {describe(slopes)}",
        )
    return objective


def call_protocol(setting: str, target: str, method: str, call: Any) -> Any:
    """call(), a method of the user's object on a test batch; what it raises as a ConfigError."""
    try:
        return call()
    except GanReproError:  # ours, already one line
        raise
    except Exception as error:
        message = f"{target}.{method} failed on a test batch ({first_line(error)})"
        raise ConfigError(setting, message) from None


def describe(value: Any) -> str:
    """A returned value, as a protocol error names it: a tensor's shape, else its type."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def build_network(setting: str, node: DictConfig, **given: Any) -> nn.Module:
    """A user's G or D (model.generator, model.discriminator, critic.<name>.architecture): an nn.Module."""
    network = instantiate(setting, node, **given)
    if not isinstance(network, nn.Module):
        raise ConfigError(
            f"{setting}.{TARGET}",
            f"{node[TARGET]} made a {type(network).__name__}, not a torch.nn.Module; return the network",
        )
    return network


def check_generator(setting: str, node: DictConfig, *, nz: int, image_size: int, channels: int) -> None:
    """The user's G, built and run on a test batch z (2, nz): it must give images (2, C, S, S)."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # the run's random streams stay untouched
        generator = build_network(setting, node, nz=nz, image_size=image_size, channels=channels)
        z = torch.randn(TEST_BATCH, nz)  # (B, nz)
        images = call_protocol(setting, node[TARGET], "forward", lambda: generator(z))
    expected = (TEST_BATCH, channels, image_size, image_size)
    if not (isinstance(images, torch.Tensor) and tuple(images.shape) == expected):
        raise ConfigError(
            setting,
            f"{node[TARGET]} maps z ({TEST_BATCH}, {nz}) to {describe(images)}; it must give images "
            f"{expected} (B, dataset.channels, dataset.image_size, dataset.image_size)",
        )


def check_discriminator(
    setting: str, node: DictConfig, *, image_size: int, channels: int, channels_last: bool
) -> None:
    """The user's D, built and run on test images (2, C, S, S) laid out as the run lays them out: it must
    give one output per sample, (2,)."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    images = torch.zeros(TEST_BATCH, channels, image_size, image_size).to(memory_format=layout)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        discriminator = build_network(setting, node, image_size=image_size, channels=channels)
        outputs = call_protocol(setting, node[TARGET], "forward", lambda: discriminator(images))
    if not (isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (TEST_BATCH,)):
        raise ConfigError(
            setting,
            f"{node[TARGET]} maps images {tuple(images.shape)} to {describe(outputs)}; it must give one "
            f"output per sample, ({TEST_BATCH},) (end with .flatten() or .view(-1))",
        )


def check_user_model(cfg: DictConfig) -> None:
    """model.generator and model.discriminator: both targets, each following its protocol."""
    model = cfg.model
    for part in ("generator", "discriminator"):
        if not has_target(model.get(part)):
            raise ConfigError(
                f"model.{part}",
                f"must be {{_target_: module.Your{part.capitalize()}, ...}} beside model.generator / "
                f"model.discriminator, got {model.get(part)!r} (gan_repro.models.DCGAN{part.capitalize()} is "
                "a target too)",
            )
    size, channels = int(cfg.dataset.image_size), int(cfg.dataset.channels)
    check_generator("model.generator", model.generator, nz=int(model.nz), image_size=size, channels=channels)
    check_discriminator(
        "model.discriminator",
        model.discriminator,
        image_size=size,
        channels=channels,
        channels_last=bool(cfg.performance.channels_last),
    )


# ----------------------------------------------------------------------------- the cache key
def targets(node: Any) -> Iterator[str]:
    """Every `_target_` under a config node, depth first."""
    if isinstance(node, DictConfig):
        if isinstance(node.get(TARGET), str):
            yield node[TARGET]
        for key in node:
            yield from targets(node.get(key))
    elif isinstance(node, ListConfig):
        for item in node:
            yield from targets(item)


def source_digests(*nodes: DictConfig) -> dict[str, str]:
    """{target: SHA-256 of the file of the module it was imported from} for every `_target_` under the nodes:
    what the cache key needs besides the settings, for code outside the package (an edited critic
    module makes a new key). Only that one file: what it imports from other files of the user's is not
    seen (docs/extending.md)."""
    digests = {}
    for node in nodes:
        for target in targets(node):
            _, module = import_target(TARGET, target)
            path = getattr(module, "__file__", None)
            digests[target] = sha256_file(path) if path else f"built in: {sys.version}"
    return dict(sorted(digests.items()))
