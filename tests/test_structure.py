"""The package's shape: imports go one way (no cycles, function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import cryptousd

PKG = Path(cryptousd.__file__).parent


def module_name(path: Path) -> str:
    parts = ["cryptousd", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its body (edges to a package mean
    its ``__init__``; the implicit import of a parent package is not counted)."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - node.level + 1]
                    stem = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" for a in node.names] + [stem]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                # the longest prefix that names one of our modules
                parts = t.split(".")
                for k in range(len(parts), 0, -1):
                    cand = ".".join(parts[:k])
                    if cand in files:
                        if cand != mod:
                            graph[mod].add(cand)
                        break
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_finds_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "cryptousd.times" in graph["cryptousd.data.candles"]  # the parser sees real edges
    assert "cryptousd.data.candle_store" in graph["cryptousd.data.candle_files"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_low_layers_never_import_high_ones():
    graph = import_graph()
    leaves = {"cryptousd.config", "cryptousd.errors", "cryptousd.times", "cryptousd.files"}
    for leaf in leaves:
        assert graph[leaf] <= leaves, f"{leaf} imports {graph[leaf] - leaves}"
    views = {
        "cryptousd.live.dashboard",
        "cryptousd.cli",
        "cryptousd.live.serve",
        "cryptousd.notebooks",
    }
    for mod, deps in graph.items():
        if mod not in views and mod != "cryptousd":
            assert not (deps & views), f"{mod} imports a view or app: {deps & views}"
