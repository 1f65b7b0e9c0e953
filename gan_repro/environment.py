"""environment.json: what a run ran on, written at each start (cache=false too): the git commit and whether
the checkout had uncommitted changes (null where the package does not run from a git checkout, or git is
missing), the hash of the whole package's code (code_version; the cache keys each stage by its own modules
instead: cache.stage_code), Python, torch with its CUDA and cuDNN (null on a CPU), and the versions of the
libraries the run calls."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

import gan_repro
from gan_repro.cache import package_versions
from gan_repro.files import write_json
from gan_repro.runstate import ENVIRONMENT_NAME

LIBRARIES = ("numpy", "scipy", "Pillow", "scikit-learn", "hydra-core", "omegaconf", "matplotlib", "pandas")
GIT_TIMEOUT_S = 10  # a checkout on a hung network filesystem must not hold the run up


def code_version() -> str:
    """A hash of the package version and of every file the package ships (its modules, the lab, a wheel's
    conf/), found by walking it: which code this run was, whatever it changed."""
    package = Path(gan_repro.__file__).parent
    digest = hashlib.sha256(gan_repro.__version__.encode())
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def git(checkout: Path, *arguments: str) -> str:
    """A git command's output in checkout (an OSError or SubprocessError when git is missing or fails)."""
    return subprocess.run(
        ["git", "-C", str(checkout), *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=GIT_TIMEOUT_S,
    ).stdout.strip()


def git_state() -> dict[str, Any]:
    """The commit of the checkout the package runs from, and whether it has uncommitted changes; nulls for an
    installed package (its folder's parent holds no .git: a site-packages inside some repository is not
    this code's checkout) or when git is missing or refuses."""
    checkout = Path(gan_repro.__file__).resolve().parent.parent
    if not (checkout / ".git").exists():  # a folder in a clone, a file in a worktree
        return {"git_commit": None, "git_dirty": None}
    try:
        return {
            "git_commit": git(checkout, "rev-parse", "HEAD"),
            "git_dirty": bool(git(checkout, "status", "--porcelain")),
        }
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


def environment() -> dict[str, Any]:
    """What environment.json holds."""
    cuda = torch.cuda.is_available()
    return {
        **git_state(),
        "code_version": code_version(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "packages": package_versions(LIBRARIES),
    }


def write_environment(run_dir: Path) -> Path:
    """Write run_dir/environment.json (atomically)."""
    return write_json(Path(run_dir) / ENVIRONMENT_NAME, environment())
