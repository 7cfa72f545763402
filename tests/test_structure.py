"""The import structure of ``src/gir`` (read with ``ast``, imports inside functions included): no import cycle
among gir modules, and no import of the research packages from the product packages
(``../shared/design/layout.md``: two floors, the product below, research above)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PRODUCT = ("gir.io", "gir.analysis", "gir.restore", "gir.models", "gir.metrics", "gir.degradations", "gir.serve")
RESEARCH = ("gir.bench", "gir.dcpt", "gir.grids", "gir.diffusion", "gir.interpret", "gir.training")

# Edges that still close a cycle, each with the change that removes it. An entry that no longer exists fails
# the test below, so that it is taken out when its cycle is broken.
KNOWN_EDGES: dict[tuple[str, str], str] = {}  # imports a cycle may keep for now (none left)


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted((root / "gir").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def _target(name: str, modules) -> str | None:
    """The gir module that ``import name`` loads last (the longest known prefix)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = SRC) -> dict[str, dict[str, list[int]]]:
    """module -> {imported gir module: line numbers}, from every ``import`` / ``from ... import`` statement,
    at any depth (module level, functions, methods, conditionals). ``from pkg import name`` counts as an
    import of ``pkg.name`` when that is a module, else of ``pkg`` (its ``__init__``)."""
    modules = _modules(root)
    graph: dict[str, dict[str, list[int]]] = {}
    for mod, (path, package) in modules.items():
        here = mod if package else mod.rpartition(".")[0]
        edges: dict[str, list[int]] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            for t in targets:
                if t == "gir" or t.startswith("gir."):
                    found = _target(t, modules)
                    lines = edges.setdefault(found, []) if found and found != mod else None
                    if lines is not None and node.lineno not in lines:
                        lines.append(node.lineno)
        graph[mod] = edges
    return graph


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _under(mod: str, packages) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in packages)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_walk_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "gir" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "gir" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from gir.sub.a import A\n")
    (pkg / "a.py").write_text("A = 1\n\ndef f():\n    from .b import B\n    return B\n")
    (pkg / "b.py").write_text("import os\n\nclass K:\n    def m(self):\n        from gir.sub import A\n")
    g = import_graph(tmp_path)
    assert g["gir.sub"] == {"gir.sub.a": [1]}
    assert g["gir.sub.a"] == {"gir.sub.b": [4]}  # inside a function, relative
    assert g["gir.sub.b"] == {"gir.sub": [5]}  # inside a method; a name of the package, not a module
    assert cycles(g) == [["gir.sub", "gir.sub.a", "gir.sub.b"]]


def test_no_import_cycle_among_gir_modules(graph):
    pruned = {m: {t: lines for t, lines in edges.items() if (m, t) not in KNOWN_EDGES} for m, edges in graph.items()}
    found = cycles(pruned)
    detail = []
    for comp in found:
        members = set(comp)
        detail += [f"{m} -> {t} (line {', '.join(map(str, pruned[m][t]))})" for m in comp for t in pruned[m]
                   if t in members]
    assert not found, "import cycles:\n" + "\n".join(detail)
    stale = [f"{a} -> {b}" for a, b in KNOWN_EDGES if b not in graph.get(a, {})]
    assert not stale, f"no longer imported, remove from KNOWN_EDGES: {stale}"


def test_product_packages_do_not_import_research_packages(graph):
    bad = [f"{m} -> {t} (line {', '.join(map(str, lines))})" for m, edges in sorted(graph.items())
           if _under(m, PRODUCT) for t, lines in edges.items() if _under(t, RESEARCH)]
    assert not bad, "the product imports research code:\n" + "\n".join(bad)
