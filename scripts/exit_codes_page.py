#!/usr/bin/env python
"""Write docs/exit-codes.md: the exit codes of `gan-repro`, rendered from errors.EXIT_CODES.

python scripts/exit_codes_page.py            # rewrite docs/exit-codes.md (--out: another file)
python scripts/exit_codes_page.py --check    # exit 1 if the page is not what the table renders
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan_repro.errors import exit_code_table
from gan_repro.writeup import write_or_check_page

PAGE = Path(__file__).resolve().parent.parent / "docs" / "exit-codes.md"
INTRO = """# Exit codes

<!-- written by scripts/exit_codes_page.py from gan_repro/errors.py's EXIT_CODES: do not edit by hand -->

Every refusal or failure of `gan-repro` prints one line, `error: <setting or file>: <message>`, and ends
with the exit code of its error class below. The companion commands (`gan-repro-plot`, `gan-repro-check`,
`gan-repro-prepare`, `gan-repro-bench`) refuse with the same line and code. `debug=true` shows the
traceback instead of the line.
"""


def page() -> str:
    """The whole page: the introduction, then the table."""
    return f"{INTRO}\n{exit_code_table()}"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or (--check) say whether it is up to date."""
    return write_or_check_page(
        argv,
        description=__doc__.split("\n\n")[0],
        default=PAGE,
        render=lambda current: page(),
        script="exit_codes_page.py",
    )


if __name__ == "__main__":
    sys.exit(main())
