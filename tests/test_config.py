"""Every option of every config group composes: each conf/<group>/<option>.yaml, found by listing conf/."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gan_repro.config import RULES, check_config, check_rules, config_dir
from gan_repro.critics import probe_critics
from gan_repro.errors import ConfigError
from gan_repro.probe import probe_length
from gan_repro.report import FIGURES
from gan_repro.schema import declared
from tests.helpers import REPO, compose_config, run_script

pytestmark = pytest.mark.unit

SKIPPED_GROUPS = ("hydra",)  # Hydra's own settings (launchers): test_sweeps composes those

SCALE_REFERENCES = (  # an experiment's value that reads a key the scale sets defers to it
    "${probe.critics_iterations}",
    "${probe.noise_iterations}",
    "${probe.critics_slow_iterations}",
)


def group_options() -> list[tuple[str, str]]:
    """(group, option) for every conf/<group>/<option>.yaml, launchers under conf/hydra left out."""
    groups = sorted(p for p in config_dir().iterdir() if p.is_dir() and p.name not in SKIPPED_GROUPS)
    return [(group.name, option.stem) for group in groups for option in sorted(group.glob("*.yaml"))]


def leaf_keys(node: dict, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the values a config file sets (into mappings, not into lists)."""
    for key, value in node.items():
        if key == "defaults":
            continue
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def plain_value(container: dict, dotted: str) -> object:
    """The value at a dotted key of a plain (unresolved) config dict."""
    for part in dotted.split("."):
        container = container[part]
    return container


def has_key(container: dict, dotted: str) -> bool:
    node = container
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_group_is_listed() -> None:
    groups = {group for group, _ in group_options()}
    assert {"dataset", "model", "loss", "noise", "scale", "experiment"} <= groups
    assert len(group_options()) >= len(groups) * 2


@pytest.mark.parametrize(("group", "option"), group_options())
def test_every_group_option_composes(group: str, option: str) -> None:
    path = config_dir() / group / f"{option}.yaml"
    header = itertools.takewhile(lambda line: line.startswith("#"), path.read_text().splitlines())
    packages = [line.split()[2] for line in header if line.split()[:2] == ["#", "@package"]]
    own = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    composed = OmegaConf.to_container(compose_config([f"{group}={option}"]), resolve=False)
    if packages == ["_global_"]:  # experiment=, scale=: values at the top level
        missing = [key for key in leaf_keys(own) if not has_key(composed, key)]
    elif packages:  # critic=: each option at its own package, critic.<name>
        missing = [key for key in leaf_keys(own, f"{packages[0]}.") if not has_key(composed, key)]
    else:
        assert isinstance(composed.get(group), dict), f"{group}={option} composed without a {group} node"
        missing = [key for key in leaf_keys(own, f"{group}.") if not has_key(composed, key)]
        for identity in ("name", "kind"):  # the field naming the option (dataset.name, noise.kind, ...)
            if identity in own:
                assert composed[group][identity] == own[identity]
    assert not missing, f"{group}={option}: keys of {path.name} missing from the composed config: {missing}"


@pytest.mark.parametrize(("group", "option"), group_options())
def test_every_group_option_passes_the_schema(group: str, option: str) -> None:
    """Each shipped option sets values its keys' rules accept (a dataset's files are checked at run time)."""
    check_rules(compose_config([f"{group}={option}"]), RULES)


def test_the_schema_refuses_with_one_line_naming_the_key() -> None:
    cfg = compose_config(["probe.batched_backward=1", "performance.compile_mode=fast"])
    with pytest.raises(ConfigError, match=r"^probe.batched_backward: must be auto, true or false, got 1$"):
        check_rules(cfg, RULES)


def test_every_declared_key_has_its_value_in_config_yaml() -> None:
    """schema.Config gives no defaults: a key it declares that conf/config.yaml does not set is missing."""
    assert OmegaConf.missing_keys(compose_config([])) == set()


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("seed=abc", "seed: must be a whole number in 0..4294967295, got 'abc'"),  # the key's rule says it
        ("train.epochs=1.5", "train.epochs: must be a whole number >= 1, got 1.5"),
        ("plot.figures=fig1", f"plot.figures: must be a list drawn from {', '.join(FIGURES)}, got 'fig1'"),
        ("train.snapshot_epochs=7", "train.snapshot_epochs: must be null or a list of whole numbers, got 7"),
        (
            "train.snapshot_iterations=[1,x]",
            "train.snapshot_iterations: holds 'x'; must be null or a list of whole numbers",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_as_the_config_composes(override: str, line: str) -> None:
    with pytest.raises(ConfigError) as error:
        compose_config([override])
    assert str(error.value) == line


@pytest.mark.parametrize("value", ["1", "yes", "[1]"])
def test_a_true_or_false_key_takes_only_true_or_false(value: str) -> None:
    """A flag's rule sees the value as given: 1 or yes is not read as true (the schema types flags Any)."""
    with pytest.raises(ConfigError, match=r"^probe.control: must be true or false, got "):
        check_config(compose_config([f"probe.control={value}"]))


def test_experiments_leave_what_scale_sets_alone() -> None:
    """No conf/experiment/*.yaml sets a key that a conf/scale/*.yaml sets: scale= decides those, whatever the
    experiment, unless the user overrides them on the command line."""
    scale_keys = {
        key
        for path in sorted((config_dir() / "scale").glob("*.yaml"))
        for key in leaf_keys(OmegaConf.to_container(OmegaConf.load(path), resolve=False))
    }
    assert {"probe.iterations", "probe.log_every", "plot.window"} <= scale_keys
    for path in sorted((config_dir() / "experiment").glob("*.yaml")):
        node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        own = {  # a value that reads another key the scale sets (${probe.critics_iterations}) defers to it
            key for key in leaf_keys(node) if plain_value(node, key) not in SCALE_REFERENCES
        }
        assert not own & scale_keys, f"{path.name} overrides what scale= sets: {sorted(own & scale_keys)}"


@pytest.mark.parametrize(
    ("overrides", "iterations"),
    [
        (["scale=paper", "experiment=noise"], 4000),  # the paper's 4000, not a shorter sweep's
        (["scale=paper", "experiment=critics"], 4000),  # six critics, each as long as the paper's probe
        (["experiment=critics"], 500),  # the small scale's shorter probe for six critics
        (["experiment=noise"], 1000),  # the small scale's noise_iterations
        ([], 4000),  # the paper's probe length by default
        (["scale=quick"], 1000),
        (["experiment=noise", "probe.iterations=500"], 500),  # the user asks for a shorter one
    ],
)
def test_experiments_keep_the_scales_probe_length(overrides: list[str], iterations: int) -> None:
    assert compose_config(overrides).probe.iterations == iterations


@pytest.mark.parametrize(
    ("overrides", "slow", "others"),
    [
        (["experiment=critics"], 2000, 500),  # matched optimality: wgan and wgan_gp get longer to plateau
        (["scale=paper", "experiment=critics"], 4000, 4000),  # the paper's probe length for every critic
        (["critic=[gan,wgan,wgan_gp]"], 4000, 4000),  # outside experiment=critics: probe.iterations for all
    ],
)
def test_slow_critics_get_their_budget_in_experiment_critics(
    overrides: list[str], slow: int, others: int
) -> None:
    cfg = compose_config(overrides)
    lengths = {critic.name: probe_length(cfg.probe, critic) for critic in probe_critics(cfg.critic)}
    assert lengths.pop("wgan") == lengths.pop("wgan_gp") == slow
    assert set(lengths.values()) == {others}


def test_the_config_page_is_what_the_schema_renders(tmp_path: Path) -> None:
    script, page = REPO / "scripts" / "config_page.py", REPO / "docs" / "config.md"
    assert run_script(script, "--check").returncode == 0
    text = page.read_text()
    assert all(f"| `{name}` |" in text for name in declared() if "." in name)  # every key of every node
    stale = tmp_path / "config.md"
    stale.write_text(text.replace("| `train.epochs` | a whole number |", "| `train.epochs` | a number |"))
    result = run_script(script, "--check", f"--out={stale}")
    assert result.returncode == 1 and "out of date" in result.stderr
