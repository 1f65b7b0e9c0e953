"""environment.json: in every run folder from its start, with the commit (null outside a git checkout or
without git), the whole package's code hash, Python's, torch's and the libraries' versions; and
report.md's Environment section."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import gan_repro
from gan_repro.environment import LIBRARIES, code_version, git_state
from gan_repro.errors import ConfigError
from gan_repro.pipeline import run
from gan_repro.runstate import ENVIRONMENT_NAME
from gan_repro.writeup import write_report
from tests.helpers import REPO, TINY, compose_config

pytestmark = pytest.mark.integration


def checkout_commit() -> str | None:
    """This checkout's commit, as git says (None without git or outside a checkout)."""
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def test_a_run_records_its_environment_and_its_report_shows_it(tiny_run) -> None:
    _, run_dir, _ = tiny_run  # a cache=false run
    environment = json.loads((run_dir / ENVIRONMENT_NAME).read_text())
    assert environment["git_commit"] == checkout_commit()
    assert isinstance(environment["git_dirty"], bool) or environment["git_commit"] is None
    assert environment["code_version"] == code_version()
    assert environment["python"] == platform.python_version() and environment["torch"] == torch.__version__
    if not torch.cuda.is_available():
        assert environment["cuda"] is None and environment["cudnn"] is None
    assert list(environment["packages"]) == list(LIBRARIES)
    assert all(environment["packages"][name] != "absent" for name in LIBRARIES)
    text = (run_dir / "report.md").read_text()
    section = text.split("## Environment\n\n", 1)[1]
    assert f"code hash {environment['code_version']}" in section
    assert f"Python {environment['python']}, torch {environment['torch']}" in section
    assert f"hydra-core {environment['packages']['hydra-core']}" in section
    if environment["git_commit"]:
        assert section.startswith(f"commit {environment['git_commit']}")


def test_it_is_written_when_the_run_starts(tmp_path: Path) -> None:
    cfg = compose_config([*TINY, "train.batch_size=5000"])  # refused once the data is read, after the start
    with pytest.raises(ConfigError, match="train.batch_size"):
        run(cfg, tmp_path / "run")
    assert json.loads((tmp_path / "run" / ENVIRONMENT_NAME).read_text())["code_version"] == code_version()


def test_no_git_or_no_checkout_gives_nulls(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH
    assert git_state() == {"git_commit": None, "git_dirty": None}
    monkeypatch.undo()
    installed = tmp_path / "site-packages" / "gan_repro" / "__init__.py"  # a folder with no .git above it
    monkeypatch.setattr(gan_repro, "__file__", str(installed))
    assert git_state() == {"git_commit": None, "git_dirty": None}


def test_a_report_without_environment_json_leaves_the_section_out(tiny_run, tmp_path: Path) -> None:
    run_dir = Path(shutil.copytree(tiny_run[1], tmp_path / "run"))
    (run_dir / ENVIRONMENT_NAME).unlink()  # a run from before environment.json
    assert "## Environment" not in write_report(run_dir).read_text()
