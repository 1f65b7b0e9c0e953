"""The package's import graph, read from its source with `ast` (nothing is imported): which of its modules
each module imports (at the top, inside functions, relative imports resolved), and everything a set of modules
reaches through it. The cache keys each stage by the source of the modules its code reaches
(cache.STAGE_ROOTS); tests/test_layout.py checks the package's layering on the same graph."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = "gan_repro"


def module_files(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package under root (root/package/...), by dotted name; a package's __init__.py is
    the package itself."""
    files = {}
    for path in sorted((Path(root) / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, modules: Iterable[str], package: str = PACKAGE) -> set[str]:
    """The package's modules that module `name` (source at path) imports: every `import` and `from ... import`
    anywhere in it (inside functions too), relative ones resolved. `from p import x` is module p.x when p.x
    is a module, else p; `import p.q.r` is the longest prefix that is a module."""
    known = set(modules)
    is_package = path.name == "__init__.py"

    def nearest(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                here = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    here = here.rpartition(".")[0]
                base = f"{here}.{node.module}" if node.module else here
            else:
                base = node.module or ""
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == package or target.startswith(package + "."):
                module = nearest(target)
                if module is not None and module != name:
                    found.add(module)
    return found


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports, for every module of the package under root."""
    files = module_files(root, package)
    return {name: imported_modules(name, path, files, package) for name, path in files.items()}


def reachable(graph: Mapping[str, set[str]], roots: Iterable[str]) -> set[str]:
    """The roots and every module they import, directly or through others, with the packages that hold each
    (importing p.q.r runs p/__init__.py and p/q/__init__.py first)."""
    reached: set[str] = set()
    waiting = list(roots)
    while waiting:
        module = waiting.pop()
        if module in reached:
            continue
        if module not in graph:
            raise KeyError(f"{module} is not a module of the package")
        reached.add(module)
        parents = [module.rpartition(".")[0]] if "." in module else []
        waiting += [*graph[module], *parents]
    return reached
