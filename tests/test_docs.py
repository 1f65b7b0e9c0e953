"""The README and the documentation site (docs/, mkdocs.yml) agree: what mkdocs build --strict cannot see."""

from __future__ import annotations

import re

import pytest

from scripts.results_page import README_BEGIN, README_END
from tests.helpers import REPO

pytestmark = pytest.mark.unit


def claims_block(readme: str) -> str:
    """The table between the README's results_page.py markers."""
    return readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip("\n")


def test_readme_claims_block_is_the_results_pages_first_table() -> None:
    """scripts/results_page.py writes both from the same sweep: a hand edit to either shows here."""
    block = claims_block((REPO / "README.md").read_text())
    assert block.startswith("| paper's claim |") and block in (REPO / "docs" / "results.md").read_text()


def test_readme_links_into_the_repository_resolve() -> None:
    """mkdocs checks the site's links, not the README's (it lives outside docs/): every relative link and
    image of the README names a file that exists."""
    readme = (REPO / "README.md").read_text()
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t}
    assert any(t.startswith("docs/") for t in targets)
    assert [t for t in sorted(targets) if not (REPO / t).is_file()] == []
