"""Per-stage cache keys: each stage's key holds the source of the package modules its code reaches (walked
through their imports), so an edited probe.py probes again with the same generators and plot.py is in no
key."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

import gan_repro
from gan_repro.cache import key_of, probe_inputs, stage_code, training_inputs
from gan_repro.imports import import_graph, reachable
from tests.helpers import TINY, compose_config

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
