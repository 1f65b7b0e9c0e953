"""The config's schema: every key of conf/config.yaml declared once, with its type, its rule and its role.

`Config` (registered in Hydra's ConfigStore as `gan_repro_schema`, first in conf/config.yaml's defaults) is
the schema of the composed config: OmegaConf refuses a value of the wrong type as it composes, and a key no
dataclass declares. The values (and each key's comment) stay in conf/config.yaml: the fields have no
defaults (MISSING), so no value is written twice. Each field's metadata is its `Setting`:

    rule         its range, a Rule with its one-line message (config.check_config applies it)
    affects      the stages whose results it changes, whose cache keys hold its value (cache.py)
    run_only     it may differ between a run and its continuation (pipeline.check_same_run)
    swept_label  aggregate labels a sweep's runs by it (aggregate.NOT_SWEPT: the keys it does not)

The groups' nodes (dataset, model, loss, noise, critic) and the lab's and updates' settings are nodes of
any shape here: their keys' rules are config.GROUP_RULES, config.CRITIC_RULES, updates.SETTINGS and the
lab's; their roles are the node's, but for the dataset keys GROUP_KEYS declares. This module imports no
training code: aggregate (the plotting side) reads the roles from it.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Union

from omegaconf import MISSING, OmegaConf

from gan_repro.errors import ConfigError
from gan_repro.report import FIGURES, FORMATS

TRAIN, PROBE, UPDATES = "train", "probe", "updates"  # the cached stages (cache.STAGE_INPUTS)
SCHEMA_NAME = "gan_repro_schema"  # its name in Hydra's ConfigStore, as conf/config.yaml's defaults list it


# ----------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """What one key accepts: `accepts(value)`, and the message for a value it refuses."""

    accepts: Callable[[Any], bool]
    expects: str  # completes "must be ...", or a full message with {value} when it starts with "!"
    optional: bool = False  # the key may be absent (e.g. dataset.bad_images, which only file datasets have)

    def problem(self, value: Any) -> str | None:
        """None when value is acceptable, else the one-line message (without the key)."""
        if self.accepts(value):
            return None
        if self.expects.startswith("!"):
            return self.expects[1:].format(value=value)
        return f"must be {self.expects}, got {value!r}"

    @property
    def range(self) -> str:
        """What the rule accepts, in words (docs/config.md): its message without 'must be' and the value."""
        if not self.expects.startswith("!"):
            return self.expects
        words = re.sub(r"[,;] got \{value!r\}$", "", self.expects[1:])
        return words.removeprefix("must be ")


def is_number(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def whole(minimum: int | None = 1, maximum: int | None = None, *, optional: bool = False) -> Rule:
    """A whole number (not a bool, not a float), at least `minimum` unless None, at most `maximum` unless
    None; null too if optional."""

    def accepts(v: Any) -> bool:
        if optional and v is None:
            return True
        return (
            isinstance(v, int)
            and not isinstance(v, bool)
            and (minimum is None or v >= minimum)
            and (maximum is None or v <= maximum)
        )

    if maximum is not None:
        expects = f"a whole number in {minimum}..{maximum}"
    else:
        expects = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
    return Rule(accepts, ("null or " if optional else "") + expects)


def number(
    *, low: float = 0.0, high: float = math.inf, low_inclusive: bool = False, high_inclusive: bool = False
) -> Rule:
    """A finite number in the interval from low to high (open or closed at each end)."""

    def accepts(value: Any) -> bool:
        if not is_number(value) or not math.isfinite(value):
            return False
        above = value >= low if low_inclusive else value > low
        below = value <= high if high_inclusive else value < high
        return above and below

    if high == math.inf:
        return Rule(accepts, f"a number {'>=' if low_inclusive else '>'} {low:g}")
    opening, closing = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
    return Rule(accepts, f"a number in {opening}{low:g}, {high:g}{closing}")


def flag() -> Rule:
    """true or false."""
    return Rule(lambda v: isinstance(v, bool), "true or false")


def spell(value: Any) -> str:
    """A value as YAML writes it: true, false, null, or the value itself."""
    return (
        {True: "true", False: "false", None: "null"}.get(value, str(value))
        if not is_number(value)
        else str(value)
    )


def choice(options: Sequence[Any], message: str | None = None, *, optional: bool = False) -> Rule:
    """One of `options`, compared with their types (true is not 1); the key may be absent if optional."""

    def accepts(value: Any) -> bool:
        return any(value == option and type(value) is type(option) for option in options)

    spelled = [spell(option) for option in options]
    default = ", ".join(spelled[:-1]) + f" or {spelled[-1]}" if len(spelled) > 1 else spelled[0]
    return Rule(accepts, message or default, optional=optional)


def list_of(options: Sequence[str], *, empty: bool = False) -> Rule:
    """A list drawn from `options`, non-empty unless `empty`."""
    return Rule(
        lambda v: OmegaConf.is_list(v) and (empty or len(v) > 0) and all(item in options for item in v),
        f"a list drawn from {', '.join(options)}" + (" (or [])" if empty else ""),
    )


def sigmas() -> Rule:
    """null, or a non-empty list of distinct finite sigmas >= 0."""

    def accepts(value: Any) -> bool:
        if value is None:
            return True
        return (
            OmegaConf.is_list(value)
            and len(value) > 0
            and len(set(value)) == len(value)
            and all(is_number(s) and math.isfinite(s) and s >= 0 for s in value)
        )

    return Rule(
        accepts, "!must be a list of distinct finite sigmas >= 0 like [0,0.1], or null; got {value!r}"
    )


def loggers() -> Rule:
    """logger: one of logger.LOGGERS (read when the rules are, so that this module imports no torch)."""
    from gan_repro.logger import LOGGERS

    return choice(LOGGERS)


BETA = number(low=0.0, high=1.0, low_inclusive=True)  # Adam's betas, in [0, 1)
SEED_MAX = 2**32 - 1  # numpy's seeds stop here; each stream's own seed comes from steps.derived_seed
IMAGE_SIZE_MAX = 1024  # 16x the paper's 64; larger sizes are refused before anything is allocated


# ----------------------------------------------------------------------------- the declaration
@dataclass(frozen=True)
class Setting:
    """A key's rule and role (see the module's docstring)."""

    rule: Rule | Callable[[], Rule] | None = None  # a function: built when first applied (loggers)
    affects: tuple[str, ...] = ()
    run_only: bool = False
    swept_label: bool = True

    def checked_by(self) -> Rule | None:
        """The rule itself (built, if it is a function that builds it)."""
        return self.rule() if callable(self.rule) else self.rule  # a Rule is not callable


def key(
    rule: Rule | Callable[[], Rule] | None = None,
    *,
    affects: Sequence[str] = (),
    run_only: bool = False,
    swept_label: bool | None = None,
) -> Any:
    """A dataclass field for one key: no default (its value is conf/config.yaml's) and its Setting. A run-only
    key never labels a sweep."""
    label = not run_only if swept_label is None else swept_label
    setting = Setting(rule, tuple(affects), run_only, label)
    return field(default=MISSING, metadata={"setting": setting})


def node(schema: type) -> Any:
    """A dataclass field for a node of keys, each declared in `schema`."""
    return field(default_factory=schema)


@dataclass
class TrainSettings:
    """train: the GAN's training (stage 1)."""

    epochs: int = key(whole(), affects=[TRAIN])
    snapshot_epochs: list[int] | None = key(affects=[TRAIN])  # within 1..epochs: config.check_snapshots
    snapshot_iterations: list[int] | None = key(affects=[TRAIN])  # G steps: config.check_snapshots
    batch_size: int = key(whole(), affects=[TRAIN])
    lr: float = key(number(), affects=[TRAIN])
    beta1: float = key(BETA, affects=[TRAIN])
    beta2: float = key(BETA, affects=[TRAIN])
    log_every: int = key(whole(), affects=[TRAIN])
    checkpoint_every: int = key(whole(minimum=0), swept_label=False)  # resume points: same numbers
    num_workers: int = key(whole(minimum=0), swept_label=False)
    sample_count: int = key(whole(), affects=[TRAIN])


@dataclass
class ProbeSettings:
    """probe: a fresh D against each frozen snapshot (stage 2)."""

    iterations: int = key(whole(), affects=[PROBE])
    critics_iterations: int = key(whole())  # experiment=critics' probe.iterations (through it), set by scale=
    critics_slow_iterations: int = key(whole())  # experiment=critics' slow_critic_iterations, set by scale=
    slow_critic_iterations: int = key(whole())  # wgan's and wgan_gp's critic.<name>.iterations (through them)
    noise_iterations: int = key(whole())  # experiment=noise's probe.iterations (through it), set by scale=
    log_every: int = key(whole(), affects=[PROBE])
    batch_size: int = key(whole(), affects=[PROBE])
    init_seed: int = key(whole(minimum=None), affects=[PROBE])  # the fresh D's weights, every snapshot's
    dtype: str = key(
        choice(
            ("float32", "float64"),
            "!must be float32 or float64 (never lower: values reach 1e-12), got {value!r}",
        ),
        affects=[PROBE],
    )
    noise_stds: list[Any] | None = key(sigmas(), affects=[PROBE])  # as written: 0 stays 0 in probe.csv
    batched_backward: Any = key(choice(("auto", True, False)), affects=[PROBE])  # auto: by device (cache)
    variance_every: int = key(whole(), affects=[PROBE])
    variance_batches: int = key(whole(minimum=2), affects=[PROBE])  # a variance needs two gradients at least
    control: Any = key(flag(), affects=[PROBE])
    generators_from: str | None = key(affects=[PROBE])  # its snapshots' hashes enter the key (cache.py)
    plateau_window: int = key(whole(minimum=2))  # the report's: a running mean's change needs two points
    plateau_fraction: float = key(number(high=1.0))  # the report's: a share of the cost's change, in (0, 1)


@dataclass
class PerformanceSettings:
    """performance: how the training stage computes (the numbers' arithmetic, on a GPU)."""

    channels_last: Any = key(flag(), affects=[TRAIN, PROBE])
    cudnn_benchmark: Any = key(flag(), affects=[TRAIN])
    autocast: str = key(
        choice(("none", "bf16"), "!must be none or bf16 (the probe always runs in fp32), got {value!r}"),
        affects=[TRAIN],
    )
    compile: Any = key(flag(), affects=[TRAIN])
    compile_mode: str = key(
        choice(
            ("default", "reduce-overhead", "max-autotune"),
            "default, reduce-overhead (CUDA graphs) or max-autotune",
        ),
        affects=[TRAIN],
    )
    data_on_device: Any = key(choice(("auto", False)), swept_label=False)  # where images live: same numbers
    log_buffer: int = key(whole(), swept_label=False)  # when rows are written: same rows


@dataclass
class DistanceSettings:
    """distance: the distances between real and generated images at each snapshot (training writes them)."""

    samples: int = key(whole(), affects=[TRAIN])
    projections: int = key(whole(), affects=[TRAIN])
    exact_samples: int = key(whole(), affects=[TRAIN])


@dataclass
class PlotSettings:
    """plot: the figures, drawn from the CSVs alone (stage 3)."""

    figures: list[str] = key(list_of(FIGURES), swept_label=False)
    window: int = key(whole(), swept_label=False)
    formats: list[str] = key(list_of(FORMATS), swept_label=False)


@dataclass
class Config:
    """The composed config, in conf/config.yaml's order (the order Hydra writes it in)."""

    seed: int = key(whole(0, SEED_MAX), affects=[TRAIN, PROBE])  # torch, the data order, every noise batch
    device: str = key(swept_label=False)  # config.resolve_device; its type (not auto) is in the keys
    quiet: Any = key(flag(), run_only=True)
    debug: Any = key(flag(), run_only=True)
    resume: Any = key(flag(), run_only=True)
    dry_run: Any = key(flag(), run_only=True)
    on_nonfinite: str = key(choice(("stop", "warn")), affects=[TRAIN, PROBE], swept_label=False)
    logger: str = key(loggers, run_only=True)  # and tensorboard installed: config.check_logger
    cache_dir: str = key(swept_label=False)  # config.check_cache_dir
    cache: bool = key(swept_label=False)
    lab: Any = key(swept_label=False)  # the lab's own SETTINGS (gan_repro.lab)
    updates: Any = key(affects=[UPDATES])  # updates.SETTINGS
    dataset: Any = key(affects=[TRAIN])  # config.GROUP_RULES; GROUP_KEYS below
    train: TrainSettings = node(TrainSettings)
    probe: ProbeSettings = node(ProbeSettings)
    performance: PerformanceSettings = node(PerformanceSettings)
    distance: DistanceSettings = node(DistanceSettings)
    plot: PlotSettings = node(PlotSettings)
    model: Any = key(affects=[TRAIN])  # config.GROUP_RULES, config.check_model
    loss: Any = key(affects=[TRAIN])  # config.GROUP_RULES
    noise: Any = key(affects=[TRAIN, PROBE])  # noise.check_noise_config; each stage's schedule (cache.py)
    critic: Any = key(affects=[PROBE])  # config.CRITIC_RULES


# Keys of a group's node whose role is not the node's: a dataset's download and preparation keys say how its
# files are fetched, not what they hold (the training key has its files' hashes instead: cache.py)
GROUP_KEYS: dict[str, Setting] = {
    "dataset.prepare": Setting(swept_label=False),
    "dataset.prepared_root": Setting(swept_label=False),
    "dataset.download": Setting(),
    "dataset.download_url": Setting(),
}


# ----------------------------------------------------------------------------- what derives from it
@functools.cache
def declared(schema: type = Config, prefix: str = "") -> dict[str, tuple[Setting, Any]]:
    """{dotted key: (its Setting, its type)} for every key of the schema, in its order, into nodes."""
    hints = typing.get_type_hints(schema)
    found: dict[str, tuple[Setting, Any]] = {}
    for item in fields(schema):
        kind = hints[item.name]
        if is_dataclass(kind):
            found |= declared(kind, f"{prefix}{item.name}.")
        else:
            found[f"{prefix}{item.name}"] = (item.metadata["setting"], kind)
    return found


SETTINGS: dict[str, Setting] = {name: setting for name, (setting, _) in declared().items()} | GROUP_KEYS
RUN_ONLY_KEYS = tuple(name for name, setting in SETTINGS.items() if setting.run_only)
NOT_SWEPT = tuple(name for name, setting in SETTINGS.items() if not setting.swept_label)


def setting_of(name: str) -> Setting:
    """A key's Setting: its own, else the nearest node's that declares one (dataset.image_size: dataset's)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        found = SETTINGS.get(".".join(parts[:end]))
        if found is not None:
            return found
    raise KeyError(f"{name} is not a key of gan_repro.schema.Config")


def stage_keys(stage: str) -> tuple[str, ...]:
    """The keys whose values a stage's cache key holds: those declared to affect it, in the schema's order
    (a node of any shape as a whole, less its keys that GROUP_KEYS declares to affect nothing)."""
    return tuple(name for name, setting in SETTINGS.items() if stage in setting.affects)


def unaffecting(node: str, stage: str) -> tuple[str, ...]:
    """A node's keys (names within it) that GROUP_KEYS declares not to affect `stage`."""
    return tuple(
        name.removeprefix(f"{node}.")
        for name, setting in GROUP_KEYS.items()
        if name.startswith(f"{node}.") and stage not in setting.affects
    )


def rules(group_rules: dict[str, Rule]) -> dict[str, Rule]:
    """Every key's rule, in the schema's order; the groups' own (config.GROUP_RULES) at their node's place."""
    found: dict[str, Rule] = {}
    for name, (setting, _) in declared().items():
        rule = setting.checked_by()
        if rule is not None:
            found[name] = rule
        found |= {key: rule for key, rule in group_rules.items() if key.startswith(f"{name}.")}
    return found


# ----------------------------------------------------------------------------- types in words
def type_words(kind: Any) -> str:
    """A key's type as docs/config.md and the refusals say it: a whole number, a list of ..., null or ..."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType) and type(None) in arguments:  # X | None
        inner = next(argument for argument in arguments if argument is not type(None))
        return f"null or {type_words(inner)}"
    if origin is list:
        element = type_words(arguments[0]) if arguments else "values"
        return "a list" if element == "any value" else f"a list of {plural(element)}"
    words = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}
    return words.get(kind, "any value" if kind is Any else getattr(kind, "__name__", str(kind)))


def plural(words: str) -> str:
    """'a whole number' -> 'whole numbers'."""
    return {"a whole number": "whole numbers", "a number": "numbers", "a string": "strings"}.get(words, words)


def type_refusal(error: BaseException) -> ConfigError | None:
    """OmegaConf's refusal of a value of the wrong type (in an override or a config file), found in an error's
    causes, as one ConfigError line naming the key: the key's own rule's message where it has one. None when
    no cause is such a refusal."""
    from omegaconf.errors import ValidationError

    while error is not None and not isinstance(error, ValidationError):
        error = error.__cause__ or error.__context__
    if error is None or not getattr(error, "full_key", None):
        return None
    full_key, value = str(error.full_key), getattr(error, "value", None)
    name = re.sub(r"(\[\d+\])+$", "", full_key)  # train.snapshot_epochs[0]: the list's element
    known = declared().get(name)
    if known is None:
        return ConfigError(name, f"{value!r} is not accepted here ({str(error).splitlines()[0]})")
    setting, kind = known
    if name != full_key:
        return ConfigError(name, f"holds {value!r}; must be {type_words(kind)}")
    rule = setting.checked_by()
    problem = rule.problem(value) if rule is not None else None
    return ConfigError(name, problem or f"must be {type_words(kind)}, got {value!r}")


def check_override_types(overrides: Sequence[str]) -> None:
    """Each value that a command-line override gives a key of the schema, each of a sweep's values too, has
    the key's type: else type_refusal's ConfigError, before any job starts (Hydra would refuse a sweep's job
    in several lines of its own, and stop the sweep there)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:  # its syntax: Hydra's own refusal, as one line (cli.composed)
        return
    typed, known = OmegaConf.structured(Config), declared()
    for override in parsed:
        if override.key_or_group not in known or override.is_delete():
            continue
        try:
            values = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
        except HydraException:  # an interval sweep: a sweeper's to sample, not a list of values
            continue
        for value in values:
            try:
                OmegaConf.update(typed, override.key_or_group, value, merge=False)
            except Exception as error:
                refused = type_refusal(error)
                if refused is None:
                    raise
                raise refused from None


def register() -> None:
    """Store Config in Hydra's ConfigStore under SCHEMA_NAME (conf/config.yaml lists it first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=Config)
