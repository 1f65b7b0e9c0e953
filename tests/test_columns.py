"""gan_repro/columns.py, the one registry of CSV columns: a run writes exactly the columns it declares, the
registry holds together, and docs/outputs-columns.md is what it renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from gan_repro.columns import (
    COLUMNS,
    FILES,
    GRADIENT_NORMS,
    PLATEAU_GRADIENT,
    axis_label,
    columns_in,
    columns_of,
    find_column,
    headings,
)
from gan_repro.critics import COST_COLUMNS
from scripts.columns_page import PAGE, page, section
from tests.helpers import REPO, run_script, undeclared_columns

pytestmark = pytest.mark.integration  # one test reads the shared tiny run


# ----------------------------------------------------------------------------- what a run writes
def test_a_run_writes_only_declared_columns(tiny_run) -> None:
    _, run_dir, _ = tiny_run
    written = {path.name for path in run_dir.glob("*.csv")}
    assert {"train.csv", "snapshots.csv", "probe.csv"} <= written
    assert undeclared_columns(run_dir) == {}


def test_an_undeclared_column_or_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(",".join([*columns_of("train.csv"), "g_accuracy"]) + "\n1,2\n")
    (tmp_path / "snapshots.csv").write_text(",".join(columns_of("snapshots.csv")) + "\n")
    (tmp_path / "extra.csv").write_text("a,b\n")
    assert undeclared_columns(tmp_path) == {
        "extra.csv": ["a", "b"],
        "train.csv": [*columns_of("train.csv"), "g_accuracy"],
    }


# ----------------------------------------------------------------------------- the registry holds together
def test_every_file_has_columns_each_named_once() -> None:
    assert {column.file for column in COLUMNS} == set(FILES)
    for file in FILES:
        names = columns_of(file)
        assert names and len(names) == len(set(names)), file


def test_lookups_refuse_what_is_not_declared() -> None:
    with pytest.raises(KeyError, match="no_such.csv"):
        columns_of("no_such.csv")
    with pytest.raises(KeyError, match="no column 'g_loss'"):
        find_column("g_loss")  # train.csv's, not probe.csv's
    with pytest.raises(KeyError, match="no axis label"):
        axis_label("iteration")


def test_named_subsets_and_the_critics_cost_columns() -> None:
    norms = columns_of("probe.csv", group=GRADIENT_NORMS)
    assert norms == ["grad_norm_minimax", "grad_norm_nonsaturating", "grad_norm_generator"]
    assert set(COST_COLUMNS.values()) == set(norms)  # every cost's norm is a declared gradient norm
    assert all(find_column(name).log_scale and find_column(name).label for name in norms)
    assert len(columns_of("critics.csv", group=PLATEAU_GRADIENT)) == 3
    groups = {(column.group, column.file) for column in COLUMNS if column.group}
    assert groups == {(GRADIENT_NORMS, "probe.csv"), (PLATEAU_GRADIENT, "critics.csv")}  # one file each


def test_labels_and_headings_say_something() -> None:
    for column in COLUMNS:
        assert column.meaning.strip(), column
        assert column.label is None or column.file == "probe.csv", column  # only probe.csv is drawn
        assert column.label is None or column.label != column.name, column
    assert list(headings("noise.csv")) == [c for c in columns_of("noise.csv") if c != "d_accuracy_end"]
    assert "column" not in headings("critics.csv")  # report.md's table leaves probe.csv's name out


# ----------------------------------------------------------------------------- docs/outputs-columns.md
def test_the_columns_page_is_the_registry(tmp_path: Path) -> None:
    text = PAGE.read_text()
    assert text == page()
    for file in FILES:
        assert section(file) in text
        for column in columns_in(file):
            assert f"| `{column.name}` |" in section(file)
    assert r"\|log10(window mean / first)\|" in text  # a | in a meaning does not split its row
    written = tmp_path / "outputs-columns.md"
    assert run_script(REPO / "scripts" / "columns_page.py", f"--out={written}").returncode == 0
    assert written.read_text() == text  # the script writes the page as it is
    assert run_script(REPO / "scripts" / "columns_page.py", "--check", f"--out={written}").returncode == 0
    written.write_text(text.replace("| `d_loss` |", "| `d_cost` |"))
    stale = run_script(REPO / "scripts" / "columns_page.py", "--check", f"--out={written}")
    assert stale.returncode == 1 and "out of date" in stale.stderr
