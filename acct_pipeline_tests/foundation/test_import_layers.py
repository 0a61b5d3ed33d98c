"""No import circles in the configuration, HTTP, service, connector, sync and alert layers.

Module-level imports only (read with ``ast``): a circle dodged by a function-level import is the
thing this guards against, so those are reported separately.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "acct_pipeline"
LAYERS = ("settings", "services", "connectors", "sync", "alerts")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    nested: list[str] = []
    for name, path in modules.items():
        if not name.split(".")[1:2] or name.split(".")[1] not in LAYERS:
            continue
        tree = ast.parse(path.read_text())
        deps: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"  # `from pkg import module` needs the module
                    deps.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
        graph[name] = {d for d in deps if d != name and d in modules}
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(fn):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                        "acct_pipeline"
                    ):
                        nested.append(f"{name}: {inner.module}")
    return graph, nested


def test_no_import_circles_in_these_layers() -> None:
    graph, _ = _graph()
    assert "acct_pipeline.connectors.registry" in graph and len(graph) > 20
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_connectors_import_nothing_inside_functions() -> None:
    _, nested = _graph()
    assert not [n for n in nested if ".connectors." in n.split(":")[0]], nested
