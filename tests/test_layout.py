"""The package's layering, read from its source with `ast` (nothing imported): no import cycles, the plotting
side never reaches the training side, and the theory lab is reached through config `_target_`s only. The graph
is gan_repro.imports' (the one the cache keys stages by). And the test suite's own: every test module is
marked, at module level, as exactly one of unit, integration or slow (docs/tests.md)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

from gan_repro.imports import import_graph
from tests.helpers import REPO

pytestmark = pytest.mark.unit

PACKAGE = "gan_repro"
DRAWING = (
    "gan_repro.plot",
    "gan_repro.report",
    "gan_repro.aggregate",
    "gan_repro.writeup",
    "gan_repro.verdicts",
    "gan_repro.redraw",
)  # redraw (or judge) from CSVs alone
COMPUTING = (
    "gan_repro.train",
    "gan_repro.probe",
    "gan_repro.steps",
    "gan_repro.checkpoints",
    "gan_repro.cache",
    "gan_repro.pipeline",
    "gan_repro.updates",
)  # training loops, their pieces, and what runs them
LAB = "gan_repro.lab"
MAY_IMPORT_LAB = ("gan_repro.redraw",)  # gan-repro-plot redraws a theory-lab run with the lab's figure

Graph = Mapping[str, set[str]]


# ----------------------------------------------------------------------------- cycles and paths
def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle (first module repeated at the end) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles = []
    for component in components:
        start = component[0]
        if len(component) > 1 or start in graph.get(start, ()):
            inside = set(component)
            back = path_between({n: graph.get(n, set()) & inside for n in inside}, start, start)
            assert back is not None
            cycles.append(back)
    return sorted(cycles)


def path_between(graph: Graph, source: str, target: str) -> list[str] | None:
    """A shortest import chain source -> ... -> target (at least one step), or None."""
    parents: dict[str, str] = {}
    frontier = [source]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph.get(node, ())):
                if successor == target:
                    chain = [successor, node]
                    while chain[-1] != source:
                        chain.append(parents[chain[-1]])
                    return chain[::-1]
                if successor not in parents and successor != source:
                    parents[successor] = node
                    following.append(successor)
        frontier = following
    return None


def show(chain: list[str]) -> str:
    return " -> ".join(chain)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = import_graph(REPO, PACKAGE)
    named = {"gan_repro", "gan_repro.cli", *DRAWING, *COMPUTING, LAB, *MAY_IMPORT_LAB}
    assert named <= found.keys(), f"the rules below name modules that no longer exist: {named - found.keys()}"
    assert found["gan_repro.cli"], "gan_repro.cli imports nothing of the package: the parser misses imports"
    return found


# ----------------------------------------------------------------------------- the rules
def test_no_import_cycles(graph) -> None:
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(show(cycle) for cycle in cycles)


@pytest.mark.parametrize("drawing", DRAWING)
def test_drawing_never_reaches_training_or_probe(graph, drawing: str) -> None:
    reached = [chain for target in COMPUTING if (chain := path_between(graph, drawing, target))]
    assert not reached, f"{drawing} reaches the training side:\n" + "\n".join(map(show, reached))


def test_the_lab_is_reached_through_config_only(graph) -> None:
    def in_lab(module: str) -> bool:
        return module == LAB or module.startswith(LAB + ".")

    offending = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if not in_lab(module) and module not in MAY_IMPORT_LAB
        for target in targets
        if in_lab(target)
    )
    assert not offending, (
        f"modules outside gan_repro.lab and {', '.join(MAY_IMPORT_LAB)} import the lab "
        "(reach it through a config _target_):\n" + "\n".join(offending)
    )


# ----------------------------------------------------------------------------- the checks can fail
def test_cycle_finder_on_hand_made_graphs() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}, "b": set()}) == [["a", "a"]]
    two = find_cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "a"}})
    assert two == [["a", "b", "a"], ["c", "d", "e", "c"]]
    assert path_between({"a": {"b"}, "b": {"c"}, "c": set()}, "a", "c") == ["a", "b", "c"]
    assert path_between({"a": {"b"}, "b": set(), "c": {"a"}}, "a", "c") is None


def test_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    """A made-up package: absolute, relative, aliased, in-function, `from package import module` imports."""
    sources = {
        "pkg/__init__.py": "",
        "pkg/a.py": "import pkg.b\nfrom pkg import c\n",
        "pkg/b.py": "def f():\n    from .sub import d\n    return d\n",
        "pkg/c.py": "from pkg.sub.d import thing as other\nimport os\n",
        "pkg/sub/__init__.py": "from . import d\nfrom .. import VERSION\n",
        "pkg/sub/d.py": "thing = 1\nfrom ..a import nothing\nimport pkg\n",
        "pkg/e.py": "import pkg.sub.d.thing\nfrom pkg import VERSION\n",
    }
    for relative, text in sources.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.c"},
        "pkg.b": {"pkg.sub.d"},
        "pkg.c": {"pkg.sub.d"},
        "pkg.sub": {"pkg.sub.d", "pkg"},
        "pkg.sub.d": {"pkg.a", "pkg"},
        "pkg.e": {"pkg.sub.d", "pkg"},
    }
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.d", "pkg.a"]]


# ----------------------------------------------------------------------------- the tests' own marks
TEST_KINDS = ("unit", "integration", "slow")  # pyproject.toml's markers; one per test module


def module_marks(source: str) -> list[str]:
    """The mark names of a test module's module-level `pytestmark` (pytest.mark.NAME, alone or in a list)."""
    marks = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            marks += [value.attr for value in values if isinstance(value, ast.Attribute)]
    return marks


def kinds_of(source: str) -> list[str]:
    """The module-level marks of a test module that say what kind of test it is (TEST_KINDS)."""
    return [mark for mark in module_marks(source) if mark in TEST_KINDS]


def test_every_test_module_is_marked_unit_integration_or_slow(pytestconfig) -> None:
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(TEST_KINDS) <= registered, f"register {set(TEST_KINDS) - registered} in pyproject.toml"
    modules = sorted((REPO / "tests").glob("test_*.py"))
    wrong = {path.name: kinds_of(path.read_text()) for path in modules}
    wrong = {name: kinds for name, kinds in wrong.items() if len(kinds) != 1}
    assert len(modules) > 10 and not wrong, (
        "each test module needs exactly one module-level `pytestmark = pytest.mark.<unit|integration|slow>` "
        f"(docs/tests.md): {wrong}"
    )


def test_the_mark_reader_on_hand_made_modules() -> None:
    assert kinds_of("import pytest\npytestmark = pytest.mark.unit\n") == ["unit"]
    assert kinds_of("pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings('x')]\n") == [
        "integration"
    ]
    assert kinds_of("pytestmark = [pytest.mark.unit, pytest.mark.slow]\n") == ["unit", "slow"]
    assert kinds_of("@pytest.mark.slow\ndef test_a():\n    pytestmark = pytest.mark.unit\n") == []
    assert kinds_of("import pytest\n") == []
