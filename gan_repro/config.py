"""Checking the config: where conf/ lives, composing it, every key's rule, and the checks across keys.

Each key's type, rule and role are declared once, in schema.py (the schema Hydra composes conf/config.yaml
onto, so that OmegaConf refuses a value of the wrong type as it composes: one line naming the key); the
groups' own keys have their rules here (GROUP_RULES, CRITIC_RULES, PHOTO_RULES), with option names from the
modules that implement them (data, models, losses, critics), so no list is kept twice. The few checks that
depend on other keys (snapshot epochs within train.epochs, the dataset's files, the model's widths, the
noise schedules) are declared next to them in NODE_CHECKS. `check_config` applies both once per run,
before any work, and resolves `device: auto`. A user's own critic objective, networks or dataset
(`_target_`, extend.py) is imported and tried on a test batch here.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan_repro.critics import ARCHITECTURES, OPTIMIZERS, PENALTIES
from gan_repro.data import BUNDLED_DATASETS, DATASET_NAMES, PHOTO_SIDE
from gan_repro.errors import ConfigError, DatasetError, RunStateError
from gan_repro.extend import (
    TARGET,
    check_discriminator,
    check_objective,
    check_user_model,
    has_target,
    import_target,
    is_user_dataset,
    is_user_model,
)
from gan_repro.losses import GENERATOR_COSTS, GENERATOR_LOSSES, OBJECTIVE_COSTS, OBJECTIVES, OWN_COST
from gan_repro.models import MODEL_NAMES, NORMS, dcgan_depth
from gan_repro.noise import check_noise_config
from gan_repro.report import saved_config
from gan_repro.runstate import check_run_format
from gan_repro.schema import (
    BETA,
    IMAGE_SIZE_MAX,
    SEED_MAX,
    TRAIN,
    Rule,
    choice,
    is_number,
    list_of,
    number,
    register,
    rules,
    type_refusal,
    unaffecting,
    whole,
)
from gan_repro.snapshot_names import snapshot_files

register()  # the schema Hydra composes conf/config.yaml onto (its defaults list name it first)

CONFIG_DIR_CANDIDATES = (
    Path(__file__).resolve().parent / "conf",  # installed wheel: conf/ ships as gan_repro/conf
    Path(__file__).resolve().parent.parent / "conf",  # source checkout or editable install
)


def config_dir() -> Path:
    """The folder holding config.yaml, for an installed wheel as for a source checkout."""
    for candidate in CONFIG_DIR_CANDIDATES:
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"gan-repro's conf/ not found in {[str(c) for c in CONFIG_DIR_CANDIDATES]}")


def compose(
    overrides: Sequence[str] = (),
    *,
    name: str = "config",
    folder: Path | None = None,
    extra: Path | None = None,
) -> DictConfig:
    """The config `gan-repro` would run with these command-line overrides (Hydra's compose API); name, folder
    and extra stand for Hydra's --config-name, --config-path and --config-dir. A value of the wrong type for
    its key (schema.py) is a ConfigError naming the key."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    search = [f"hydra.searchpath=['file://{extra}']"] if extra is not None else []
    try:
        with initialize_config_dir(config_dir=str(folder or config_dir()), version_base="1.3"):
            return hydra_compose(config_name=name, overrides=[*search, *overrides])
    except Exception as error:
        refused = type_refusal(error)  # a value of the wrong type: one line naming the key
        if refused is None:
            raise
        raise refused from None
    finally:
        GlobalHydra.instance().clear()


def composed(overrides: Sequence[str] = (), **source: Any) -> DictConfig:
    """compose() (source: its name, folder and extra), with Hydra's and OmegaConf's complaints as one
    ConfigError line naming `overrides`, without Hydra's config search path."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return compose(overrides, **source)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        message = " ".join(str(error).split()).split(" Config search path:")[0]
        raise ConfigError("overrides", message or error.__class__.__name__) from None


def unknown_added_key(arguments: Sequence[str]) -> str | None:
    """The first key that a `+key=value` (or `++key=value`) override adds although no config has it: Hydra
    would accept it silently, and nothing reads it. None when every added key is known."""
    added = [
        a.lstrip("+").split("=", 1)[0]
        for a in arguments
        if a.startswith("+") and "=" in a and not a.lstrip("+").startswith("hydra")
    ]
    added = [key for key in added if "/" not in key]  # +group=option picks a config, not a key
    if not added:
        return None
    plain = [
        a
        for a in arguments
        if not a.startswith(("-", "+", "hydra.")) and "=" in a and "," not in a.split("=", 1)[1]
    ]
    try:
        base = compose(plain)
    except Exception:  # Hydra reports the bad override itself
        return None
    missing = object()
    return next((key for key in added if OmegaConf.select(base, key, default=missing) is missing), None)


def check_added_keys(overrides: Sequence[str]) -> None:
    """A `+key=value` override adding a key no config has: a ConfigError naming it (nothing would read it)."""
    unknown = unknown_added_key(overrides)
    if unknown is not None:
        raise ConfigError(
            unknown,
            f"unknown key (added with +{unknown}=...); every key is listed in conf/config.yaml, and "
            "gan-repro --cfg job shows the composed config",
        )


# ----------------------------------------------------------------------------- rules
def named_or_target(names: Sequence[str], what: str) -> Rule:
    """One of the built-in `names`, or a node {_target_: module.Name, ...}: the user's own (extend.py)."""
    return Rule(
        lambda v: (isinstance(v, str) and v in names) or has_target(v),
        f"{', '.join(names)}, or {{_target_: module.Your{what}, ...}} (docs/extending.md)",
    )


def own_name(builtins: Sequence[str], group: str) -> Rule:
    """A user's dataset or model's own name (a label for logs and summaries): not a built-in's."""
    return Rule(
        lambda v: isinstance(v, str) and v.strip() != "" and v not in builtins,
        f"!must be your {group}'s own name, not empty nor a built-in {group}'s, got {{value!r}}",
    )


# The keys of the groups' nodes (conf/dataset/, conf/model/, conf/loss/ and conf/config.yaml's dataset node),
# which schema.Config leaves of any shape: their options' names come from the modules that implement them
GROUP_RULES: dict[str, Rule] = {
    "dataset.name": choice(
        DATASET_NAMES, "!unknown dataset '{value}'; choose one of " + ", ".join(DATASET_NAMES)
    ),
    "dataset.channels": choice((1, 3)),
    "dataset.image_size": whole(1, IMAGE_SIZE_MAX),  # and what fits in memory: check_memory
    "dataset.max_images": whole(1, optional=True),  # file datasets: the first N files; null = all
    "dataset.heldout_fraction": number(high=0.5, high_inclusive=True),  # held out at least this share
    "dataset.heldout_minimum": whole(minimum=0),
    "dataset.heldout_seed": whole(minimum=None),
    "dataset.bad_images": choice(("stop", "skip"), optional=True),  # file datasets only; absent = stop
    "model.name": choice(MODEL_NAMES, "!unknown model '{value}'; choose one of " + ", ".join(MODEL_NAMES)),
    "model.nz": whole(),
    "loss.name": choice(
        GENERATOR_LOSSES, "!unknown generator loss '{value}'; choose " + " or ".join(GENERATOR_LOSSES)
    ),
}
RULES: dict[str, Rule] = rules(GROUP_RULES)  # every key's rule: schema.Config's, the groups' at their node


CRITIC_RULES: dict[str, Rule] = {  # each critic.<name> node (conf/critic/<name>.yaml)
    "architecture": named_or_target(ARCHITECTURES, "Discriminator"),
    "objective": named_or_target(OBJECTIVES, "Objective"),
    # and those its objective defines (check_critic_pairs); [] measures no gradient of G (critic=linear);
    # objective: a user's objective's own cost (grad_norm_generator)
    "generator_costs": list_of((*GENERATOR_COSTS, OWN_COST), empty=True),
    "penalty": choice(PENALTIES),
    "penalty_weight": number(low_inclusive=True),  # lambda or gamma; 0 with penalty none
    "clip": Rule(
        lambda v: v is None or (is_number(v) and math.isfinite(v) and v > 0), "null or a number > 0"
    ),
    "norm": choice(NORMS),
    "optimizer": choice(OPTIMIZERS),
    "lr": number(),
    "iterations": whole(optional=True),  # the critic's own probe length; null = probe.iterations
}
PHOTO_RULES: dict[str, Rule] = {  # dataset=photos' own keys (conf/dataset/photos.yaml)
    "count": whole(),  # crops to cut; and what fits in memory: check_memory
    "min_side": whole(1, PHOTO_SIDE),  # and at most max_side: check_dataset
    "max_side": whole(1, PHOTO_SIDE),  # a square crop fits in the photographs' shorter side
    "crop_seed": whole(0, SEED_MAX),  # numpy's default_rng
}
OPTIMIZER_RULES: dict[str, dict[str, Rule]] = {  # the keys each optimizer reads
    "adam": {"beta1": BETA, "beta2": BETA},
    "rmsprop": {"alpha": BETA},
}


ABSENT = object()  # what read() returns for a key the config does not have, when asked to tell


def read(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """cfg's value at a dotted key (default if absent), a missing (???) value reported as a ConfigError."""
    try:
        value = OmegaConf.select(cfg, key, default=default, throw_on_missing=True)
    except Exception as error:  # MissingMandatoryValue, InterpolationResolutionError
        raise ConfigError(
            key, f"is required and cannot be read ({str(error).splitlines()[0]}); set it, e.g. {key}=..."
        ) from None
    return value


def check_rules(cfg: DictConfig, rules: dict[str, Rule], *, prefix: str = "") -> None:
    """Apply each rule to its key under cfg; the first refusal is a ConfigError naming the full key."""
    for key, rule in rules.items():
        value = read(cfg, key, default=ABSENT)
        if value is ABSENT and rule.optional:
            continue
        problem = rule.problem(None if value is ABSENT else value)
        if problem is not None:
            raise ConfigError(f"{prefix}{key}", problem)


# ----------------------------------------------------------------------------- checks across keys
def check_dataset(dataset_cfg: DictConfig) -> None:
    """The dataset node: its own keys, the photos' crop sides in order, then that a file dataset's root is a
    folder with something in it."""
    rules = {key.split(".", 1)[1]: rule for key, rule in RULES.items() if key.startswith("dataset.")}
    if is_user_dataset(dataset_cfg):  # dataset.images._target_: loaded and checked by data.user_images
        rules["name"] = own_name(DATASET_NAMES, "dataset")
    check_rules(dataset_cfg, rules, prefix="dataset.")
    if is_user_dataset(dataset_cfg):
        if not has_target(dataset_cfg.images):
            raise ConfigError(
                "dataset.images",
                f"must be {{_target_: module.load_images, ...}}, got {dataset_cfg.images!r}",
            )
        import_target(f"dataset.images.{TARGET}", dataset_cfg.images[TARGET])
        return
    if dataset_cfg.name == "photos":
        check_rules(dataset_cfg, PHOTO_RULES, prefix="dataset.")
        if dataset_cfg.min_side > dataset_cfg.max_side:
            raise ConfigError(
                "dataset.min_side",
                f"{dataset_cfg.min_side} is larger than dataset.max_side={dataset_cfg.max_side}; "
                "the crop sides are drawn between them",
            )
    if dataset_cfg.name in BUNDLED_DATASETS:
        return
    if OmegaConf.is_missing(dataset_cfg, "root") or dataset_cfg.root in (None, ""):
        raise ConfigError(
            "dataset.root",
            f"dataset={dataset_cfg.name} needs its files: add dataset.root=/path/to/{dataset_cfg.name}",
        )
    root = Path(str(dataset_cfg.root)).expanduser()
    if dataset_cfg.get("download"):
        return  # the files are fetched into root before the data is read
    if not root.is_dir():
        raise DatasetError(
            "dataset.root", f"{root} is not a folder; point dataset.root at the {dataset_cfg.name} files"
        )
    if not any(root.iterdir()):
        raise DatasetError("dataset.root", f"{root} is empty; put the {dataset_cfg.name} files there")


def check_model(cfg: DictConfig) -> None:
    """A user's G and D follow their protocols; DCGAN needs an image size 2^k >= 16 and positive widths."""
    if is_user_model(cfg.model):
        check_user_model(cfg)
    elif cfg.model.name.startswith("dcgan"):
        dcgan_depth(int(cfg.dataset.image_size))
        check_rules(cfg, {"model.ngf": whole(), "model.ndf": whole()})
    else:  # mlp
        check_rules(cfg, {"model.hidden": whole()})


def check_snapshots(cfg: DictConfig) -> None:
    """train.snapshot_epochs (distinct epochs within 1..train.epochs) and train.snapshot_iterations
    (distinct G steps >= 1; their upper end needs the dataset: checkpoints.snapshot_iterations): lists,
    not both empty."""
    by_epoch = snapshot_list(cfg, "train.snapshot_epochs", "epochs", "[1,10,25]")
    by_step = snapshot_list(cfg, "train.snapshot_iterations", "G steps", "[100,1000]")
    epochs = cfg.train.epochs
    for epoch in by_epoch:
        if epoch > epochs:
            raise ConfigError(
                "train.snapshot_epochs",
                f"{epoch!r} is outside 1..train.epochs={epochs}; use epochs between 1 and {epochs}",
            )
    if not by_epoch and not by_step:
        raise ConfigError(
            "train.snapshot_epochs",
            "is empty and so is train.snapshot_iterations: no snapshot to probe; list epochs like [1,10,25] "
            "or G steps in train.snapshot_iterations like [100,1000]",
        )


def snapshot_list(cfg: DictConfig, key: str, what: str, example: str) -> list[int]:
    """A snapshot list setting: distinct whole numbers >= 1 (null or [] = none)."""
    values = read(cfg, key)
    if values is None:
        return []
    if not OmegaConf.is_list(values):
        raise ConfigError(key, f"must be a list of {what} like {example}, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(key, f"{value!r} is not a whole number >= 1; list {what} like {example}")
    if len(set(values)) != len(values):
        raise ConfigError(key, f"has repeated {what}: {list(values)}")
    return list(values)


IN_MEMORY_IMAGES = {"digits": 1797, "mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}  # photos: count


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: DictConfig) -> None:
    """A dataset held in memory as float32 at dataset.image_size must fit in half of this machine's memory
    (dataset.image_size=4096 on the digits would ask for 120 GB); the photos' dataset.count too."""
    count = int(cfg.dataset.count) if cfg.dataset.name == "photos" else IN_MEMORY_IMAGES.get(cfg.dataset.name)
    memory = physical_memory()
    if count is None or memory is None:
        return
    size, channels = int(cfg.dataset.image_size), int(cfg.dataset.channels)
    needed = count * channels * size * size * 4
    if needed > memory // 2 and cfg.dataset.name == "photos":
        raise ConfigError(
            "dataset.count",
            f"{count} crops of {channels}x{size}x{size} would take {needed / 1e9:.1f} GB in memory, more "
            f"than half of this machine's {memory / 1e9:.1f} GB; cut fewer, or lower dataset.image_size",
        )
    if needed > memory // 2:
        raise ConfigError(
            "dataset.image_size",
            f"{size} would hold {count} {cfg.dataset.name} images of {channels}x{size}x{size} in memory: "
            f"{needed / 1e9:.1f} GB, more than half of this machine's {memory / 1e9:.1f} GB; "
            "use a smaller size",
        )


def writable_folder_problem(path: Path) -> str | None:
    """None when path is a folder we can write in, or could be created as one; else why not."""
    if path.exists():
        if not path.is_dir():
            return f"{path} is a file, not a folder"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path} is not writable (read-only or no permission)"
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder, so {path} cannot be created"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {parent} is not writable (read-only or no permission)"
    return None


def check_cache_dir(cfg: DictConfig) -> None:
    """cache_dir (and dataset.prepared_root, when a file dataset is prepared) must be folders we can write."""
    places = []
    if cfg.get("cache"):
        places.append(("cache_dir", cfg.get("cache_dir")))
    if cfg.dataset.get("prepare") and cfg.dataset.get("prepared_root"):
        places.append(("dataset.prepared_root", cfg.dataset.prepared_root))
    for setting, value in places:
        problem = writable_folder_problem(Path(str(value)).expanduser())
        if problem is not None:
            raise ConfigError(setting, f"{problem}; point {setting} at a writable folder, or set cache=false")


def check_critics(cfg: DictConfig) -> None:
    """critic: one node per critic (critic=gan, critic='[gan,wgan]'), each with its keys' rules, its
    optimizer's keys, and keys that agree with each other."""
    critics = read(cfg, "critic")
    if not isinstance(critics, DictConfig) or len(critics) == 0:
        raise ConfigError(
            "critic", "must name at least one critic, e.g. critic=gan or critic='[gan,wgan_gp]'"
        )
    for name, node in critics.items():
        prefix = f"critic.{name}."
        if not isinstance(node, DictConfig):
            raise ConfigError(f"critic.{name}", f"must be a critic's settings (conf/critic/), got {node!r}")
        check_rules(node, CRITIC_RULES, prefix=prefix)
        check_rules(node, OPTIMIZER_RULES[node.optimizer], prefix=prefix)
        check_critic_pairs(node, prefix)
        if has_target(node.architecture):
            check_discriminator(
                f"{prefix}architecture",
                node.architecture,
                image_size=int(cfg.dataset.image_size),
                channels=int(cfg.dataset.channels),
                channels_last=bool(cfg.performance.channels_last),
            )


def objective_costs(node: DictConfig, prefix: str) -> tuple[str, ...]:
    """The generator costs a critic's objective defines: a built-in's (OBJECTIVE_COSTS), or a user's own
    cost and the built-in ones it declares (builtin_costs), once the user's objective passed its test."""
    if not has_target(node.objective):
        return OBJECTIVE_COSTS[node.objective]
    objective = check_objective(f"{prefix}objective", node.objective, list(node.generator_costs))
    unknown = [kind for kind in objective.builtin_costs if kind not in GENERATOR_COSTS]
    if unknown:
        raise ConfigError(
            f"{prefix}objective",
            f"{node.objective[TARGET]}.builtin_costs names {unknown}; "
            f"choose from {', '.join(GENERATOR_COSTS)}",
        )
    return (OWN_COST, *objective.builtin_costs)


def check_critic_pairs(node: DictConfig, prefix: str) -> None:
    """What a critic's keys must agree on: costs its objective defines, a weight only with a penalty, and a
    gradient penalty only without BatchNorm (it needs each sample's own gradient)."""
    allowed = objective_costs(node, prefix)
    wrong = [kind for kind in node.generator_costs if kind not in allowed]
    if wrong or len(set(node.generator_costs)) != len(node.generator_costs):
        named = node.objective[TARGET] if has_target(node.objective) else node.objective
        raise ConfigError(
            f"{prefix}generator_costs",
            f"{list(node.generator_costs)} does not fit objective {named}: give distinct costs "
            f"from {', '.join(allowed)}",
        )
    if node.penalty == "none" and node.penalty_weight != 0:
        raise ConfigError(
            f"{prefix}penalty_weight",
            f"is {node.penalty_weight} but penalty is none; set {prefix}penalty=gradient or r1, "
            "or the weight to 0",
        )
    if node.architecture == "linear" and node.norm != "none":
        raise ConfigError(
            f"{prefix}norm", f"is {node.norm}, but a linear critic has no hidden layer; use none"
        )
    if node.penalty != "none" and node.norm == "batch":
        raise ConfigError(
            f"{prefix}norm",
            f"batch with penalty {node.penalty}: BatchNorm mixes the samples of a batch, so the penalty "
            "would not see each sample's own gradient (Gulrajani et al., Sec. 4); use layer or none",
        )


def check_logger(cfg: DictConfig) -> None:
    """logger=tensorboard needs the tensorboard package (an optional extra): refused before any work."""
    if cfg.logger == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            "logger",
            "tensorboard is not installed: pip install tensorboard (the [tensorboard] extra), or logger=csv",
        )


# What another run's snapshots share with this run to be probed here (probe.generators_from): the networks
# and the images (checkpoints.model_signature checks each file's weights again as it is loaded), the
# snapshot schedule, which names the snapshots and their epochs, and what this run's summary and figures
# say about how the generators were made (their seed, G's loss).
GENERATOR_SETTINGS = (
    "model",
    "dataset",
    "seed",
    "loss",
    "train.epochs",
    "train.snapshot_epochs",
    "train.snapshot_iterations",
    "train.batch_size",
)


def setting_values(config: dict[str, Any], key: str) -> dict[str, Any]:
    """{dotted key: value} of a plain config at a dotted key, one level into a mapping (keys that change no
    training result left out, such as a dataset's download and preparation keys: schema.GROUP_KEYS)."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict):
        left_out = unaffecting(key, TRAIN)
        return {f"{key}.{name}": item for name, item in value.items() if name not in left_out}
    return {key: value}


def generator_differences(saved: dict[str, Any], cfg: DictConfig) -> list[str]:
    """'key: value there, value here' for each GENERATOR_SETTINGS key where a run's saved config differs."""
    nodes = {name.split(".")[0] for name in GENERATOR_SETTINGS}
    current = {
        name: OmegaConf.to_container(cfg[name], resolve=True) if OmegaConf.is_config(cfg[name]) else cfg[name]
        for name in nodes
    }
    differences = []
    for name in GENERATOR_SETTINGS:
        there, here = setting_values(saved, name), setting_values(current, name)
        differences += [
            f"{key}: {there.get(key)!r} there, {here.get(key)!r} here"
            for key in sorted(there.keys() | here.keys())
            if there.get(key) != here.get(key)
        ]
    return differences


def check_generators_from(cfg: DictConfig) -> None:
    """probe.generators_from: null, or the folder of another run whose snapshots this run probes instead of
    training: it holds config.yaml and checkpoints/iteration_*.pt, made with this run's GENERATOR_SETTINGS."""
    value = read(cfg.probe, "generators_from")
    if value is None:
        return
    source, setting = Path(str(value)).expanduser(), "probe.generators_from"
    instead = "or set probe.generators_from=null to train here"
    if not source.is_dir():
        raise ConfigError(
            setting, f"{source} is not a folder; point it at a finished run's folder, {instead}"
        )
    if not (source / "config.yaml").is_file() or not snapshot_files(source / "checkpoints", ".pt"):
        raise ConfigError(
            setting,
            f"{source} holds no snapshots (a run's config.yaml and checkpoints/iteration_*.pt); point it at "
            f"a run whose training finished, {instead}",
        )
    try:
        check_run_format(source)  # its train.csv and snapshots.csv are copied into this run's folder
    except RunStateError as error:
        raise ConfigError(setting, f"{error.message}; {instead}") from None
    try:
        saved = saved_config(source)
    except Exception as error:  # garbled YAML
        first = (str(error).strip().splitlines() or [error.__class__.__name__])[0][:160]
        raise ConfigError(setting, f"{source / 'config.yaml'} is unreadable ({first}); {instead}") from None
    differences = generator_differences(saved if isinstance(saved, dict) else {}, cfg)
    if differences:
        raise ConfigError(
            setting,
            f"{source}'s snapshots were made with other settings ({'; '.join(differences[:3])}"
            f"{'; ...' if len(differences) > 3 else ''}); set them as its config.yaml has them, {instead}",
        )


NODE_CHECKS: tuple[Callable[[DictConfig], None], ...] = (
    check_logger,
    lambda cfg: check_dataset(cfg.dataset),
    check_memory,
    check_cache_dir,
    check_model,
    lambda cfg: check_noise_config(cfg.noise),  # the schedules' kinds and sigmas (noise.py parses them)
    check_snapshots,
    check_critics,
    check_generators_from,  # last: it compares the checked model, dataset and train nodes
)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda if available, else cpu; a named device must exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError("device", f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()
    ):
        raise ConfigError("device", f"{name} is not available on this machine; use device=auto or device=cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device", "mps is not available on this machine; use device=auto or device=cpu")
    return device


def check_config(cfg: DictConfig) -> torch.device:
    """Every setting a run needs, checked once before any work; returns the device to use."""
    rules = {key: rule for key, rule in RULES.items() if not key.startswith("dataset.")}
    if is_user_model(cfg.model):  # model.generator / model.discriminator: checked by check_model
        rules["model.name"] = own_name(MODEL_NAMES, "model")
    check_rules(cfg, rules)
    for check in NODE_CHECKS:
        check(cfg)
    return resolve_device(str(read(cfg, "device")))
