"""The layers of DESIGN.md rule 11, checked on the import graph of webapp/ (and jobs/, the RQ entry points).

Every `import` counts, at module level or inside a function (a lazy import is still an arrow). `from webapp
import inputs` is an arrow to webapp.inputs (the module), not to the package webapp. Importing a module also
runs its packages' __init__ files; those implicit arrows are not counted (webapp/__init__.py is the app
factory, and every file would otherwise point at it).

Layers, top to bottom: entry → flows → platform → core. An arrow may point down or stay in its layer, except
that the three flows never import each other; nothing in webapp/ imports jobs/ (the worker entry points sit
beside the app factory and import it). No file may sit on an import circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "jobs")

ENTRY, FLOW, PLATFORM, CORE = 3, 2, 1, 0
LAYER_NAMES = {ENTRY: "entry", FLOW: "flow", PLATFORM: "platform", CORE: "core"}
# A module's layer is that of its longest matching prefix.
LAYERS = {
    "jobs": ENTRY,
    "webapp": ENTRY,  # webapp/__init__.py: create_app wires the flows, the APIs and the privacy hooks
    "webapp.cli": ENTRY,
    "webapp.seed": ENTRY,
    "webapp.api": ENTRY,
    "webapp.devserver": ENTRY,
    "webapp.desk": ENTRY,  # the home page reads all three flows
    "webapp.processes": FLOW,
    "webapp.worlds": FLOW,
    "webapp.gamenight": FLOW,
    "webapp.accounts": PLATFORM,
    "webapp.audit": PLATFORM,
    "webapp.outbox": PLATFORM,
    "webapp.webhooks": PLATFORM,
    "webapp.notify": PLATFORM,
    "webapp.governance": PLATFORM,
    "webapp.config": CORE,
    "webapp.extensions": CORE,
    "webapp.errors": CORE,
    "webapp.inputs": CORE,
    "webapp.htmx": CORE,
    "webapp.templating": CORE,
    "webapp.sealing": CORE,
    "webapp.commands": CORE,
    "webapp.openapi": CORE,
    "webapp.apiblueprint": CORE,
    "webapp.promotion": CORE,
    "webapp.ops": CORE,
}
FLOWS = ("webapp.processes", "webapp.worlds", "webapp.gamenight")


def module_files() -> dict[str, Path]:
    """Every module of the checked packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against this module's package
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            yield submodule if submodule in known else source


def _target(name: str, known: dict[str, Path]) -> str | None:
    """The checked module `name` refers to (`webapp.x.y.Thing` → webapp.x.y), or None for the outside world."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    """module → the checked modules it imports, anywhere in its body."""
    known = module_files()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            for name in _imported(node, module, is_package, known):
                target = _target(name, known)
                if target is not None and target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    while parts:
        layer = LAYERS.get(".".join(parts))
        if layer is not None:
            return layer
        parts.pop()
    return None


def flow_of(module: str) -> str | None:
    return next((flow for flow in FLOWS if module == flow or module.startswith(flow + ".")), None)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only the components with more than one module (the circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def _file(module: str) -> str:
    return str(module_files()[module].relative_to(ROOT))


def _edge(source: str, target: str) -> str:
    return f"{_file(source)} → {_file(target)}"


def test_every_module_has_a_layer():
    unplaced = [_file(module) for module in import_graph() if layer_of(module) is None]
    assert not unplaced, "give these files a layer in tests/test_import_graph.py LAYERS:\n  " + "\n  ".join(unplaced)


def test_no_import_circle_between_files():
    graph = import_graph()
    report = []
    for component in strongly_connected(graph):
        members = set(component)
        report.append("circle: " + ", ".join(_file(m) for m in component))
        report += [f"    {_edge(source, target)}" for source in component for target in sorted(graph[source] & members)]
    assert not report, "\n" + "\n".join(report)


def test_arrows_point_down_and_flows_stay_apart():
    graph = import_graph()
    report = []
    for source in sorted(graph):
        for target in sorted(graph[source]):
            upward = (layer_of(source) or 0) < (layer_of(target) or 0)
            across = flow_of(source) and flow_of(target) and flow_of(source) != flow_of(target)
            into_jobs = source.startswith("webapp") and target.split(".")[0] == "jobs"
            if upward or across or into_jobs:
                why = "flow → other flow" if across else "webapp → jobs" if into_jobs else (
                    f"{LAYER_NAMES[layer_of(source) or 0]} → {LAYER_NAMES[layer_of(target) or 0]}")
                report.append(f"{why}: {_edge(source, target)}")
    assert not report, "\n" + "\n".join(report)


def test_the_checker_sees_lazy_imports_and_from_package_imports(tmp_path):
    """The parser itself: a function-level import is an arrow, and `from webapp import inputs` names webapp.inputs."""
    tree = ast.parse("def f():\n    from webapp import inputs\n    import webapp.errors\n")
    known = {"webapp": Path(), "webapp.inputs": Path(), "webapp.errors": Path()}
    names = [name for node in ast.walk(tree) for name in _imported(node, "webapp.x", False, known)]
    assert [_target(name, known) for name in names] == ["webapp.inputs", "webapp.errors"]
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
