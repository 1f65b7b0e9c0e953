#!/usr/bin/env python
"""Write docs/config.md's table of every key: its type, rule and role from gan_repro/schema.py, its default
and comment from conf/config.yaml. The page's prose, above the marker, is kept as it is.

python scripts/config_page.py            # rewrite the table in docs/config.md (--out: another file)
python scripts/config_page.py --check    # exit 1 if the page's table is not what the schema renders
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gan_repro.config import RULES, config_dir
from gan_repro.schema import declared, setting_of, type_words
from gan_repro.writeup import write_or_check_page

PAGE = Path(__file__).resolve().parent.parent / "docs" / "config.md"
MARKER = "<!-- written by scripts/config_page.py from gan_repro/schema.py and conf/config.yaml: edit them -->"
HEADING = """## Every key

Each key of `conf/config.yaml`, with its default there and its comment. **Type**: what OmegaConf accepts
as the config composes (a wrong type is refused then, naming the key). **Range**: what its rule accepts
(`check_config`, before any work). **Affects**: the stages whose results it changes, whose cache keys hold
it ([Cache](cache.md)); *run only*: it may differ when a run is resumed. **Label**: whether a sweep's runs
are labelled by it when it differs between them (`gan-repro-plot SWEEP_DIR`). The keys of a group's node
(`dataset.*`, `model.*`, ...) come from the group's option ([Datasets](datasets.md), [Critics](critics.md)).
"""
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<name>[A-Za-z_]\w*):(?P<rest>.*)$")
COMMENT = re.compile(r"^(?P<value>.*?)\s*(?:#\s?(?P<comment>.*))?$")


def yaml_keys(path: Path) -> dict[str, tuple[str, str]]:
    """{dotted key: (its value as written, its comment)} for every value conf/config.yaml sets (Hydra's own
    node and the defaults list left out); a comment continued on the next lines (indented deeper than
    the key) joined to it."""
    keys: dict[str, tuple[str, str]] = {}
    nodes: list[tuple[int, str]] = []  # the enclosing nodes: (indent, name)
    last: tuple[str, int] | None = None  # the key a deeper comment line continues, and its indent
    skipping = False
    for line in path.read_text().splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if stripped.startswith("#"):
            if last is not None and indent > last[1]:
                value, comment = keys[last[0]]
                keys[last[0]] = (value, f"{comment} {stripped.lstrip('# ')}")
            continue
        match = KEY_LINE.match(line)
        if match is None:
            continue  # a list item of the defaults list, a blank line
        last = None
        if indent == 0:
            skipping = match["name"] in ("defaults", "hydra")
        if skipping:
            continue
        nodes = [(depth, name) for depth, name in nodes if depth < indent]
        parts = COMMENT.match(match["rest"].strip())
        name = ".".join([*(name for _, name in nodes), match["name"]])
        if parts["value"] == "":  # a node: its keys follow
            nodes.append((indent, match["name"]))
            continue
        keys[name] = (parts["value"], (parts["comment"] or "").strip())
        last = (name, indent)
    return keys


def cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, < as an entity (not the start of an HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def row(name: str, value: str, comment: str) -> str:
    """One key's table row."""
    if not comment:
        raise SystemExit(f"error: conf/config.yaml: {name} has no comment; say what it does next to it")
    known = declared().get(name)
    kind = type_words(known[1]) if known is not None else "—"  # a group's key: its rule says
    setting = setting_of(name)
    rule = RULES.get(name)
    affects = ", ".join(setting.affects) or ("*run only*" if setting.run_only else "—")
    cells = [
        f"`{name}`",
        cell(kind),
        f"`{value}`",
        cell(rule.range) if rule is not None else "—",
        affects,
        "yes" if setting.swept_label else "no",
        cell(comment),
    ]
    return "| " + " | ".join(cells) + " |"


def table() -> str:
    """The heading and the table of every key conf/config.yaml sets."""
    keys = yaml_keys(config_dir() / "config.yaml")
    unset = [name for name in declared() if "." in name and name not in keys]
    if unset:
        raise SystemExit(f"error: conf/config.yaml: no value for {', '.join(unset)}, declared in schema.py")
    lines = [
        "| key | type | default | range | affects | label | comment |",
        "|---|---|---|---|---|---|---|",
        *(row(name, value, comment) for name, (value, comment) in keys.items()),
    ]
    return f"{HEADING}\n" + "\n".join(lines) + "\n"


def page(current: str) -> str:
    """The page: its prose as it stands (everything above the marker), the marker, then the table."""
    if MARKER not in current:
        raise SystemExit(f"error: {PAGE.name} has no marker line; put {MARKER} where the table goes")
    return f"{current.split(MARKER)[0]}{MARKER}\n\n{table()}"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or (--check) say whether it is up to date."""
    return write_or_check_page(
        argv, description=__doc__.split("\n\n")[0], default=PAGE, render=page, script="config_page.py"
    )


if __name__ == "__main__":
    sys.exit(main())
