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


#: The layers, lowest first (the README's folders): a module imports only its own layer and lower.
LAYERS = (
    ("base", ("config", "errors", "files", "times", "markets", "indicators", "colors")),
    ("data", ("data",)),
    ("forecast", ("forecast",)),
    ("evaluation", ("evaluation",)),
    ("research", ("research",)),
    ("live", ("live",)),
    ("apps", ("cli", "notebooks", "plots")),
)


def layer_of(module: str) -> int:
    if module == "cryptousd":
        return len(LAYERS) - 1  # the package's names: importable from the top, an app's view
    top = module.split(".")[1]
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (tests/test_structure.py)")


def test_every_module_has_a_layer_and_the_top_level_holds_only_the_base_and_apps():
    graph = import_graph()
    for mod in graph:
        layer_of(mod)
    top_modules = {p.stem for p in PKG.glob("*.py")} - {"__init__"}
    allowed = set(LAYERS[0][1]) | set(LAYERS[-1][1])
    assert top_modules <= allowed, f"modules beside the layer folders: {top_modules - allowed}"
    folders = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert folders == {"data", "forecast", "evaluation", "research", "live"}


def test_layer_of_tells_layers_apart():
    assert layer_of("cryptousd.markets") == 0
    assert layer_of("cryptousd.data.sources.replay") == 1
    assert layer_of("cryptousd.live.feed.app") == 5
    assert layer_of("cryptousd.cli") == 6


def test_imports_go_down_the_layers_never_up():
    graph = import_graph()
    upward = [
        f"{mod} ({LAYERS[layer_of(mod)][0]}) imports {dep} ({LAYERS[layer_of(dep)][0]})"
        for mod, deps in sorted(graph.items())
        for dep in sorted(deps)
        if layer_of(dep) > layer_of(mod)
    ]
    assert not upward, "\n".join(upward)


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
