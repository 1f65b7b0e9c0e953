"""The error classes and their exit codes (gan_repro/errors.py): every class has its own entry in the one
table, the command line ends with that entry's code and the error's one line, and docs/exit-codes.md is
the table rendered."""

from __future__ import annotations

import errno
import importlib
import pkgutil
from pathlib import Path

import pytest

import gan_repro
import gan_repro.cli
from gan_repro.errors import EXIT_CODES, GanReproError, Interrupted, NonFiniteError, exit_code_table
from tests.helpers import REPO, TINY, run_script
from tests.test_untrusted import call_main

pytestmark = pytest.mark.integration

PAGE = REPO / "docs" / "exit-codes.md"


def subclasses(kind: type) -> set[type]:
    """Every class below kind, at any depth."""
    return {below for child in kind.__subclasses__() for below in {child, *subclasses(child)}}


def project_errors() -> set[type]:
    """Every GanReproError subclass gan-repro declares, in any of its modules (each imported first)."""
    for module in pkgutil.walk_packages(gan_repro.__path__, f"{gan_repro.__name__}."):
        importlib.import_module(module.name)
    return {kind for kind in subclasses(GanReproError) if kind.__module__.startswith("gan_repro.")}


def without_codes(kinds: set[type]) -> list[str]:
    """The classes that have no entry of their own in EXIT_CODES (a parent's entry does not count)."""
    return sorted(kind.__name__ for kind in kinds if kind not in EXIT_CODES)


def test_every_error_class_has_its_own_exit_code() -> None:
    kinds = project_errors()
    assert len(kinds) >= 6, kinds  # ConfigError, RunFolderBusy, RunStateError, ... found at all
    assert without_codes(kinds | {Interrupted}) == []


def test_a_class_added_without_a_code_is_caught() -> None:
    class Unlisted(GanReproError):
        """Declared here (not in gan_repro), so the test above never sees it."""

    assert without_codes({Unlisted}) == ["Unlisted"] and Unlisted in subclasses(GanReproError)


def example(kind: type[BaseException]) -> BaseException:
    """An error of this class, built as the code builds it."""
    if issubclass(kind, OSError):
        return kind(errno.ENOSPC, "No space left on device", "/full/disk/probe.csv")
    if kind in (NonFiniteError, Interrupted):
        return kind("g_loss became nan at train iteration 1")
    return kind("some.setting", "what went wrong; what to do")


@pytest.mark.parametrize("kind", list(EXIT_CODES), ids=lambda kind: kind.__name__)
def test_the_command_line_ends_with_the_tables_code_and_one_line(
    kind: type[BaseException], tmp_path: Path, monkeypatch
) -> None:
    error = example(kind)

    def failing_run(*args, **kwargs):
        raise error

    monkeypatch.setattr(gan_repro.cli, "run", failing_run)
    code, output = call_main([*TINY, f"hydra.run.dir={tmp_path / 'run'}"])
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == EXIT_CODES[kind] and len(lines) == 1 and "Traceback" not in output, output
    said = ("/full/disk/probe.csv: No space left on device",) if kind is OSError else (str(error),)
    assert all(part in lines[0] for part in said), lines[0]


def test_the_exit_code_page_is_the_table(tmp_path: Path) -> None:
    assert exit_code_table() in PAGE.read_text()
    for kind, code in EXIT_CODES.items():
        assert f"| {code} | `{kind.__name__}` |" in exit_code_table()
    written = tmp_path / "exit-codes.md"
    assert run_script(REPO / "scripts" / "exit_codes_page.py", f"--out={written}").returncode == 0
    assert written.read_text() == PAGE.read_text()  # the script writes the page as it is
    written.write_text(written.read_text().replace("| 3 |", "| 4 |"))
    stale = run_script(REPO / "scripts" / "exit_codes_page.py", "--check", f"--out={written}")
    assert stale.returncode == 1 and "out of date" in stale.stderr
