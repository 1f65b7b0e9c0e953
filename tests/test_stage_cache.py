"""Per-stage cache keys: each stage's key holds the source of the package modules its code reaches (walked
through their imports), so an edited probe.py probes again with the same generators and plot.py is in no
key; and probe.generators_from, which probes another run's snapshots instead of training."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

import gan_repro
from gan_repro import pipeline
from gan_repro.cache import key_of, probe_inputs, stage_code, training_inputs
from gan_repro.imports import import_graph, reachable
from tests.helpers import TINY, compose_config
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration

CPU = torch.device("cpu")
DRAWING = ("gan_repro.plot", "gan_repro.report", "gan_repro.writeup", "gan_repro.aggregate")


def test_a_stage_reaches_what_its_modules_import_transitively(tmp_path: Path) -> None:
    sources = {  # a made-up package: a -> sub.b -> c (inside a function); d imports a, nothing imports d
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def f():\n    import pkg.c\n",
        "pkg/c.py": "",
        "pkg/d.py": "import pkg.a\n",
    }
    for relative, text in sources.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    reached = reachable(import_graph(tmp_path, "pkg"), ["pkg.a"])
    assert reached == {"pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkg.c"}

    train = set(stage_code("train")["modules"])
    # train.py imports steps and data; steps imports losses, data imports extend: found through them
    assert {"gan_repro.train", "gan_repro.steps", "gan_repro.losses", "gan_repro.extend"} <= train
    assert "gan_repro.pipeline:train_stage" in train and "gan_repro.pipeline" not in train
    assert not train & {"gan_repro.probe", "gan_repro.critics", *DRAWING}
    probe = set(stage_code("probe")["modules"])
    assert {"gan_repro.probe", "gan_repro.critics", "gan_repro.transport", "gan_repro.losses"} <= probe
    assert not probe & {"gan_repro.train", *DRAWING}


def test_an_edited_probe_py_keeps_the_training_key(tmp_path: Path, monkeypatch) -> None:
    copy = tmp_path / "gan_repro"  # the package's source read from a copy we can edit
    shutil.copytree(Path(gan_repro.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(gan_repro, "__file__", str(copy / "__init__.py"))
    cfg = compose_config(TINY)

    def keys() -> tuple[str, str]:
        return key_of(training_inputs(cfg, CPU)), key_of(probe_inputs(cfg, CPU))

    def edit(module: str) -> None:
        (copy / module).write_text((copy / module).read_text() + "\n# edited\n")

    train_key, probe_key = keys()
    edit("probe.py")
    assert keys()[0] == train_key and keys()[1] != probe_key  # probe again, with the same generators
    probe_key = keys()[1]
    for module in ("plot.py", "report.py", "writeup.py"):  # drawing decides neither
        edit(module)
        assert keys() == (train_key, probe_key), module
    edit("train.py")
    assert keys()[0] != train_key and keys()[1] != probe_key  # new generators: probed again too


def test_generators_from_probes_another_runs_snapshots(tiny_run, tmp_path: Path, monkeypatch, caplog) -> None:
    _, first, _ = tiny_run  # TINY, cache=false
    code, output = call_main([*TINY, "dry_run=true", f"probe.generators_from={first}"])
    assert code == 0 and f"not run: the snapshots of {first.resolve()} are probed" in output, output

    def no_training(*args, **kwargs):
        raise AssertionError("probe.generators_from trained")

    monkeypatch.setattr(pipeline, "train_stage", no_training)
    with caplog.at_level(logging.INFO, logger="gan_repro"):
        summary = pipeline.run(compose_config([*TINY, f"probe.generators_from={first}"]), tmp_path / "second")
    assert f"train: not run here; probing the snapshots of {first.resolve()}" in caplog.text
    # the same snapshots and probe settings: the same probe.csv, byte for byte
    assert (tmp_path / "second" / "probe.csv").read_bytes() == (first / "probe.csv").read_bytes()
    recorded = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["generators_from"] == recorded["generators_from"] == str(first.resolve())


@pytest.mark.parametrize(
    "source,override,says",
    [
        ("missing", None, "is not a folder"),
        ("empty", None, "holds no snapshots"),
        ("config only", None, "holds no snapshots"),
        ("run", "model.ngf=16", "model.ngf: 8 there, 16 here"),
        ("run", "dataset.heldout_seed=1", "dataset.heldout_seed: 0 there, 1 here"),
        ("run", "train.epochs=3", "train.epochs: 2 there, 3 here"),
        ("run", "seed=1", "seed: 0 there, 1 here"),
    ],
)
def test_generators_from_refuses_what_it_cannot_probe(
    tiny_run, tmp_path: Path, source: str, override: str | None, says: str
) -> None:
    _, first, _ = tiny_run
    folders = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "run": first}
    folders["config only"] = tmp_path / "config only"
    for name in ("empty", "config only"):
        folders[name].mkdir()
    shutil.copy(first / "config.yaml", folders["config only"] / "config.yaml")
    overrides = [*TINY, f"probe.generators_from={folders[source]}", f"hydra.run.dir={tmp_path / 'run'}"]
    code, output = call_main(overrides + ([override] if override else []))
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: probe.generators_from: "), output
    assert says in lines[0], output
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_cached_checkpoints_are_linked_not_copied(tmp_path: Path) -> None:
    cached = [
        *TINY,
        "cache=true",
        f"cache_dir={tmp_path / 'cache'}",
        "train.epochs=1",
        "train.snapshot_epochs=[1]",
        "probe.iterations=3",
    ]
    pipeline.run(compose_config(cached), tmp_path / "first")
    pipeline.run(compose_config(cached), tmp_path / "second")
    first, second = (tmp_path / name / "checkpoints" / "iteration_000024.pt" for name in ("first", "second"))
    assert (
        first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 3
    )  # two runs and the cache
    csvs = [tmp_path / name / "train.csv" for name in ("first", "second")]
    assert csvs[0].stat().st_ino != csvs[1].stat().st_ino and csvs[0].read_bytes() == csvs[1].read_bytes()
