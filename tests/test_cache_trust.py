"""The cache returns only what the same inputs computed: verified entries (size and SHA-256 of every file), a
key that covers the code, the numeric packages, every setting that decides the numbers and each data file's
content, and preparation that leaves the training RNG alone."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

import gan_repro
from gan_repro import cache
from gan_repro.cache import dataset_fingerprint, key_of, probe_inputs, training_inputs
from gan_repro.environment import code_version
from gan_repro.pipeline import run
from gan_repro.prepare import identity, prepared_dataset
from gan_repro.schema import PROBE, TRAIN, declared, type_words
from tests.helpers import TINY, compose_config, write_images

pytestmark = pytest.mark.integration

CPU = torch.device("cpu")


def entries(cache: Path, stage: str) -> list[Path]:
    return sorted(path for path in (cache / stage).iterdir() if not path.name.startswith("."))


def test_damaged_entries_are_moved_aside_and_recomputed(tmp_path: Path, caplog) -> None:
    cache = tmp_path / "cache"
    cached = [*TINY, "cache=true", f"cache_dir={cache}", "plot.formats=[png]"]
    run(compose_config(cached), tmp_path / "first")
    reference = {name: (tmp_path / "first" / name).read_bytes() for name in ("probe.csv", "train.csv")}
    manifest = json.loads((entries(cache, "probe")[0] / "manifest.json").read_text())
    assert set(manifest["files"]) == {"probe.csv"} and len(manifest["files"]["probe.csv"]["sha256"]) == 64

    # C1: one d_loss edited to 999.0 in the cached probe.csv.
    probe_csv = entries(cache, "probe")[0] / "probe.csv"
    lines = probe_csv.read_text().splitlines(keepends=True)
    cells = lines[2].split(",")
    cells[2] = "999.0"
    lines[2] = ",".join(cells)
    probe_csv.write_text("".join(lines))
    with caplog.at_level(logging.INFO, logger="gan_repro"):
        summary = run(compose_config(cached), tmp_path / "second")
    assert "probe entry" in caplog.text and "is damaged" in caplog.text and "moved aside" in caplog.text
    assert "probe: using the cached results" not in caplog.text
    assert (tmp_path / "second" / "probe.csv").read_bytes() == reference["probe.csv"]
    assert "999.0" not in json.dumps(summary)
    assert any(".damaged-" in path.name for path in (cache / "probe").iterdir())

    # C3: the (new) cached probe.csv torn; C2: a cached checkpoint truncated.
    probe_csv = entries(cache, "probe")[0] / "probe.csv"
    os.truncate(probe_csv, 300)
    checkpoint = entries(cache, "train")[0] / "checkpoints" / "iteration_000024.pt"
    data = checkpoint.read_bytes()
    checkpoint.unlink()  # a hard link: the run folders keep their own intact copy
    checkpoint.write_bytes(data[: len(data) // 2])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gan_repro"):
        run(compose_config(cached), tmp_path / "third")
    assert caplog.text.count("is damaged") == 2, caplog.text
    assert "iteration_000024.pt has" in caplog.text
    for name, content in reference.items():
        assert (tmp_path / "third" / name).read_bytes() == content, name

    # A file missing from an entry.
    (entries(cache, "train")[0] / "snapshots.csv").unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gan_repro"):
        run(compose_config(cached), tmp_path / "fourth")
    assert "snapshots.csv cannot be read" in caplog.text


def test_key_covers_code_packages_and_every_deciding_setting(tmp_path: Path, monkeypatch) -> None:
    base = compose_config(TINY)
    inputs = training_inputs(base, CPU)
    assert {"torch", "numpy", "scipy", "Pillow"} <= set(inputs["versions"])
    for override in ("on_nonfinite=warn",):  # S2: a warn run's NaN rows are not a stop run's result
        changed = compose_config([*TINY, override])
        assert key_of(training_inputs(changed, CPU)) != key_of(inputs)
        assert key_of(probe_inputs(changed, CPU)) != key_of(probe_inputs(base, CPU))
    # S1: the source of every module training's code reaches through its imports (logger.py, files.py, ...;
    # tests/test_stage_cache.py: the probe's own modules are not among them); cli.py is not, though
    # environment.json's code_version, the whole package's hash, sees it.
    copy = tmp_path / "gan_repro"
    shutil.copytree(Path(gan_repro.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(gan_repro, "__file__", str(copy / "__init__.py"))
    before = key_of(training_inputs(base, CPU))
    for module in ("logger.py", "files.py", "runstate.py", "errors.py", "train.py"):
        (copy / module).write_text((copy / module).read_text() + "\n# changed\n")
        after = key_of(training_inputs(base, CPU))
        assert after != before, module
        before = after
    version = code_version()
    (copy / "cli.py").write_text((copy / "cli.py").read_text() + "\n# changed\n")
    assert key_of(training_inputs(base, CPU)) == before and code_version() != version


def other_value(value: Any, kind: Any) -> Any:
    """A value unlike `value` that a key of this type takes (null: a list, or text)."""
    if value is None:
        return [1] if "list" in type_words(kind) else "other"
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return [*value, value[-1]] if value else [1]
    return f"{value}-other"


def test_each_stage_key_holds_exactly_the_keys_declared_to_affect_it(monkeypatch) -> None:
    """Every key schema.py declares (train.*, probe.*, ..., and the top-level ones) changes the training key
    iff it is declared to affect training, and the probe's iff it affects training or the probe: a new
    train.* key cannot share cached generators with runs that set it otherwise."""
    monkeypatch.setattr(cache, "stage_code", lambda stage: {})  # the code is the same throughout
    base = compose_config(TINY)
    keys = key_of(training_inputs(base, CPU)), key_of(probe_inputs(base, CPU))
    checked = []
    for name, (setting, kind) in declared().items():
        if kind is Any and "." not in name:  # a group's node (dataset, critic, ...): its keys are the group's
            continue
        cfg, value = base.copy(), OmegaConf.select(base, name)
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value  # a list
        OmegaConf.update(cfg, name, other_value(value, kind), merge=False)
        trains = TRAIN in setting.affects
        expected = (trains, trains or PROBE in setting.affects)
        changed = key_of(training_inputs(cfg, CPU)) != keys[0], key_of(probe_inputs(cfg, CPU)) != keys[1]
        assert changed == expected, (
            f"{name} affects {setting.affects}; changes (train, probe) keys: {changed}"
        )
        checked.append(name)
    assert {"train.epochs", "train.lr", "probe.iterations", "distance.samples"} <= set(checked)


def test_data_files_are_keyed_by_content(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    write_images(root, [(20, 20)] * 3)
    cfg = compose_config(
        [*TINY, "dataset=image_folder", f"dataset.root={root}", f"cache_dir={tmp_path / 'cache'}"]
    ).dataset
    store = tmp_path / "hashes.json"
    before, before_identity = dataset_fingerprint(cfg, store), identity(cfg)
    assert json.loads(store.read_text())  # hashes remembered for the next run
    assert dataset_fingerprint(cfg, store) == before
    # S3: an image overwritten with another of the same size, and its old mtime put back.
    target = root / "001.png"
    stat = target.stat()
    other = tmp_path / "other"
    write_images(other, [(20, 20)] * 3)
    data = (other / "002.png").read_bytes()
    if len(data) != stat.st_size:  # same size: pad or cut a copy of the same image with PNG trailing bytes
        data = (data + b"\0" * stat.st_size)[: stat.st_size]
    target.write_bytes(data)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    assert dataset_fingerprint(cfg, store) != before
    assert identity(cfg)["source"] != before_identity["source"]  # the prepared array is redone too


def test_preparing_leaves_the_training_rng_alone(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    write_images(root, [(20, 20)] * 70)
    cfg = compose_config(
        [*TINY, "dataset=image_folder", f"dataset.root={root}", f"cache_dir={tmp_path / 'cache'}"]
    ).dataset
    torch.manual_seed(0)
    before = torch.get_rng_state()
    prepared_dataset(cfg, num_workers=1)  # prepares (a DataLoader with a worker)
    assert torch.equal(torch.get_rng_state(), before)
    prepared_dataset(cfg, num_workers=1)  # reuses
    assert torch.equal(torch.get_rng_state(), before)
