"""The import structure: no circles in flowrt/, layers that only import downwards, and
node modules that import flowrt.* only (docs/architecture.md draws the picture).

Imports are read from the source (``ast``), so imports made only for type hints
(``if TYPE_CHECKING:``) and imports inside functions count as much as the others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOWRT = ROOT / "flowrt"
NODES = ROOT / "nodes" / "flowrt_nodes"


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, top: Path, known: set[str]) -> set[str]:
    """The modules among ``known`` that the file at ``path`` imports, anywhere in it."""
    name = module_name(path, top)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:  # ``from flowrt import flowdoc``
                    found.add(f"{source}.{alias.name}")
                elif source in known:
                    found.add(source)
    found.discard(name)
    return found


def import_graph(top: Path) -> dict[str, set[str]]:
    files = {module_name(p, top): p for p in top.rglob("*.py")}
    known = set(files)
    return {name: imports_of(path, top, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in graph[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_the_cycle_finder_finds_a_type_hint_only_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nB = 1\n")
    (package / "c.py").write_text("from .a import x\n")
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.b"]]


def test_no_flowrt_module_imports_in_a_circle() -> None:
    assert cycles(import_graph(FLOWRT)) == []


# Each module (or package prefix) and what it must never reach, even indirectly: the
# layers transport → dispatcher → nodes → flows → runtime → server, lowest first.
NEVER_REACHES = {
    "flowrt.mqtt": {"flowrt.dispatch", "flowrt.node", "flowrt.runtime", "flowrt.server"},
    "flowrt.dispatch": {"flowrt.node", "flowrt.flow", "flowrt.runtime", "flowrt.registry"},
    "flowrt.node": {"flowrt.flow", "flowrt.graph", "flowrt.flowdoc", "flowrt.registry",
                    "flowrt.runtime", "flowrt.server"},
    "flowrt.flow": {"flowrt.runtime", "flowrt.registry", "flowrt.server"},
    "flowrt.runtime": {"flowrt.server", "flowrt.testing", "flowrt.storage"},
}


@pytest.mark.parametrize("low", sorted(NEVER_REACHES))
def test_layers_only_import_downwards(low: str) -> None:
    graph = import_graph(FLOWRT)
    for module in (m for m in graph if m == low or m.startswith(low + ".")):
        above = {m for m in reachable(graph, module)
                 if any(m == h or m.startswith(h + ".") for h in NEVER_REACHES[low])}
        assert not above, f"{module} imports (through others) {sorted(above)}"


def test_only_the_server_and_the_cli_import_the_server() -> None:
    graph = import_graph(FLOWRT)
    importers = {m for m, deps in graph.items() if any(d.startswith("flowrt.server") for d in deps)}
    assert {m for m in importers if not m.startswith(("flowrt.server", "flowrt.cli"))} == set()


def test_no_node_module_imports_another() -> None:
    graph = import_graph(NODES)
    offenders = {m: sorted(deps) for m, deps in graph.items()
                 if deps - {"flowrt_nodes"} and m != "flowrt_nodes"}
    assert offenders == {}
