"""The command line itself: every Hydra flag works before or after the overrides. In-process and without
training: each flag prints and exits, or meets a setting the run refuses (seed=-1) before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from gan_repro.config import config_dir
from tests.test_untrusted import call_main

CONF = str(config_dir())
# (flags, the overrides they go with, exit code, what the output holds). seed=-1 where a flag would run a job:
# the job is refused before any work (a sweep reports its failed job and exits 1).
FLAGS = [
    (["--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-c", "job"], ["seed=3"], 0, "seed: 3"),
    (["--cfg", "all"], ["seed=3"], 0, "hydra:"),
    (["--cfg", "hydra"], ["seed=3"], 0, "job_logging:"),
    (["--cfg", "job", "--package", "train"], ["train.epochs=3"], 0, "# @package train\nepochs: 3"),
    (["--cfg", "job", "-p", "train"], ["train.epochs=3"], 0, "# @package train\nepochs: 3"),
    (["--cfg", "job", "--resolve"], ["train.batch_size=32"], 0, "batch_size: 32"),
    (["--help"], ["seed=3"], 0, "Companion commands"),
    (["-h"], ["seed=3"], 0, "Companion commands"),
    (["--hydra-help"], ["hydra.job.name=demo"], 0, "== Flags =="),  # Hydra's help takes hydra.* overrides
    (["--info"], ["seed=3"], 0, "Installed Hydra Plugins"),
    (["-i"], ["seed=3"], 0, "Installed Hydra Plugins"),
    (["-i", "defaults"], ["seed=3"], 0, "Defaults List"),
    (["--multirun"], ["seed=-1"], 1, "error: seed:"),
    (["-m"], ["seed=-1"], 1, "error: seed:"),
    (["--run"], ["seed=-1"], 2, "error: seed:"),
    (["-r"], ["seed=-1"], 2, "error: seed:"),
    (["--config-dir", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cd", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--config-name", "config", "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cn", "config", "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--config-path", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["-cp", CONF, "--cfg", "job"], ["seed=3"], 0, "seed: 3"),
    (["--shell-completion"], ["install=bash"], 0, "complete"),
    (["-sc"], ["install=bash"], 0, "complete"),
    (["--version"], ["seed=3"], 0, "Hydra 1."),
]


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize(("flags", "overrides", "code", "text"), FLAGS, ids=[" ".join(f[0]) for f in FLAGS])
def test_every_hydra_flag_works_before_or_after_the_overrides(
    flags: list[str], overrides: list[str], code: int, text: str, where: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a job's folder, and a sweep's, land under outputs/ here
    arguments = [*flags, *overrides] if where == "before" else [*overrides, *flags]
    returned, output = call_main(arguments)
    assert (returned, text in output) == (code, True), output
    assert "unrecognized arguments" not in output


def test_overrides_on_both_sides_of_a_flag_all_count() -> None:
    code, output = call_main(["seed=3", "--cfg", "job", "train.epochs=4", "-p", "train"])
    assert code == 0 and "epochs: 4" in output, output
    code, output = call_main(["seed=3", "--cfg", "job", "train.epochs=4"])
    assert code == 0 and "seed: 3" in output and "epochs: 4" in output, output
