#!/usr/bin/env python
"""Write docs/outputs-columns.md: every column of every CSV a run writes, rendered from gan_repro/columns.py.

python scripts/columns_page.py            # rewrite docs/outputs-columns.md (--out: another file)
python scripts/columns_page.py --check    # exit 1 if the page is not what the registry renders
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan_repro.columns import FILES, Column, columns_in
from gan_repro.writeup import write_or_check_page

PAGE = Path(__file__).resolve().parent.parent / "docs" / "outputs-columns.md"
INTRO = """# Output columns

<!-- written by scripts/columns_page.py from gan_repro/columns.py: do not edit by hand -->

Every column of every CSV file a run writes ([the run folder](outputs.md)), and of a sweep's claims
files ([Sweeps](sweeps.md)), is declared once in `gan_repro/columns.py`: the writers take their headers
from there, and the figures, `summary.json` and `report.md` their sets. *Log scale*: the quantity spans
orders of magnitude, so it is drawn on a log axis and averaged in log space (geometric means).
*Checked*: a NaN or inf in it stops the run (`on_nonfinite=stop`) or is logged (`on_nonfinite=warn`).
A sweep's `results.csv` and `training_results.csv` hold the run's labels (`run` and the swept keys),
then `probe.csv`'s and `train.csv`'s columns.
"""


def escaped(text: str) -> str:
    """Text safe in a Markdown table cell: no column breaks, emphasis or HTML tags (`code` kept as it is)."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):  # outside the code spans
        for character, escape in (("|", r"\|"), ("*", r"\*"), ("_", r"\_"), ("<", "&lt;")):
            parts[index] = parts[index].replace(character, escape)
    return "`".join(parts)


def row(column: Column) -> str:
    """One column as a table row: name, meaning, log scale, checked."""
    marks = ["yes" if column.log_scale else "", "yes" if column.finite_check else ""]
    return f"| `{column.name}` | {escaped(column.meaning)} | {' | '.join(marks)} |"


def section(file: str) -> str:
    """One file: its heading, what a row is, and its columns in file order."""
    lines = [
        f"## `{file}`",
        "",
        f"{escaped(FILES[file][0].upper() + FILES[file][1:])}.",
        "",
        "| column | what it holds | log scale | checked |",
        "|---|---|---|---|",
        *(row(column) for column in columns_in(file)),
    ]
    return "\n".join(lines) + "\n"


def page() -> str:
    """The whole page: the introduction, then one section per file."""
    return "\n".join([INTRO, *(section(file) for file in FILES)])


def main(argv: list[str] | None = None) -> int:
    """Write the page, or (--check) say whether it is up to date."""
    return write_or_check_page(
        argv,
        description=__doc__.split("\n\n")[0],
        default=PAGE,
        render=lambda current: page(),
        script="columns_page.py",
    )


if __name__ == "__main__":
    sys.exit(main())
