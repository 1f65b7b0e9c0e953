"""The console script finds conf/ from a source checkout and from a wheel installed elsewhere."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gan_repro.config import config_dir
from tests.helpers import REPO, cli_env

pytestmark = pytest.mark.integration


def test_source_checkout_uses_top_level_conf() -> None:
    assert config_dir() == REPO / "conf"


def test_wheel_ships_conf_and_runs_from_another_directory(tmp_path: Path) -> None:
    """Build the wheel, unpack it as pip would install it, and compose the config from elsewhere."""
    source = tmp_path / "source"  # a clean copy: a stale *.egg-info/SOURCES.txt would hide packaging mistakes
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            "*.egg-info",
            "build",
            "dist",
            ".git",
            ".venv",
            "venv",
            "outputs",
            "__pycache__",
            ".pytest_cache",
            ".hypothesis",  # written by the other worker's hypothesis tests while this copies
            ".ruff_cache",
            "site",
            "docs",
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("gan_repro-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    shipped = {name.removeprefix("gan_repro/conf/") for name in names if name.startswith("gan_repro/conf/")}
    in_repo = {str(path.relative_to(REPO / "conf")) for path in (REPO / "conf").rglob("*.yaml")}
    assert in_repo <= shipped, f"config files missing from the wheel: {sorted(in_repo - shipped)}"
    assert "gan-repro = gan_repro.cli:main" in entry_points
    assert "gan-repro-plot = gan_repro.cli:plot_main" in entry_points
    console_scripts = entry_points.partition("[console_scripts]")[2].partition("\n[")[0]
    for line in filter(None, map(str.strip, console_scripts.splitlines())):
        name, _, target = (part.strip() for part in line.partition("="))
        module, _, function = target.partition(":")
        found = getattr(importlib.import_module(module), function, None)
        assert callable(found), f"console script {name} = {target}: no such function"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = cli_env({"PYTHONPATH": str(tmp_path / "site")})  # the unpacked wheel, not this checkout
    script = (
        "import sys, gan_repro.cli as cli; print(cli.__file__); print(cli.config_dir()); "
        "sys.argv = ['gan-repro', '--cfg', 'job', 'scale=paper']; cli.main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    module_file, conf, *printed = result.stdout.splitlines()
    assert module_file.startswith(str(tmp_path / "site"))
    assert conf == str(tmp_path / "site" / "gan_repro" / "conf")
    assert "image_size: 64" in "\n".join(printed)
