"""No import cycles among the modules of ``acct_pipeline``.

The graph is read from the source with ``ast``: every ``import`` / ``from ... import`` of an
``acct_pipeline`` module counts, at module level and inside functions alike (a function-level
import only hides a cycle until the function runs), except under ``if TYPE_CHECKING:``.

``import a.b.c`` and ``from a.b import c`` (``c`` a module) depend on module ``a.b.c`` only; a
package's ``__init__`` counts when the import names the package itself (``from a.b import name``
with ``name`` defined in ``a/b/__init__.py``, or ``import a.b``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "acct_pipeline"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def module_files(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (a package's ``__init__.py``
    under the package's own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree``, wherever it is, except the bodies of
    ``if TYPE_CHECKING:`` (their ``else`` branches run, so they count)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` is, or the nearest enclosing module/package of the tree."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + "."):
                        deps.add(_target(alias.name, modules) or alias.name)
                continue
            if node.level:
                here = name if is_package else name.rpartition(".")[0]
                base_parts = here.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not (base == package or base.startswith(package + ".")):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    deps.add(sub)  # a submodule: that module only
                else:
                    deps.add(_target(base, modules) or base)  # a name defined in ``base``
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module, as a path that
    starts and ends at the component's first module in sorted order (the shortest such cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)

    found = []
    for component in components:
        start = min(component)
        # breadth-first from start back to start, inside the component
        paths = {w: [start, w] for w in sorted(graph[start] & component)}
        queue = list(paths)
        while start not in paths:
            nxt = []
            for v in queue:
                for w in sorted(graph[v] & component):
                    if w not in paths:
                        paths[w] = [*paths[v], w]
                        nxt.append(w)
            queue = nxt
        found.append(paths[start])
    return sorted(found)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_walker_sees_function_level_and_relative_imports_but_not_type_checking(
    tmp_path: Path,
) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import thing\n",
            "b.py": "def f():\n    from . import c\n    return c\n",
            "c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import x\nelse:\n    import pkg.d\n"
            ),
            "d.py": "import os\n",
        },
    )
    graph = import_graph(root, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.c"},
        "pkg.c": {"pkg.d"},
        "pkg.d": set(),
    }
    assert cycles(graph) == []


def test_the_walker_counts_a_package_init_only_when_the_import_names_it(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "sub/__init__.py": "from pkg.sub.leaf import VALUE\nNAME = 1\n",
            "sub/leaf.py": "VALUE = 1\n",
            "x.py": "from pkg.sub.leaf import VALUE\n",  # the leaf, not sub/__init__
            "y.py": "from pkg.sub import NAME\n",  # the package's own name
            "z.py": "import pkg.sub.leaf\n",
        },
    )
    graph = import_graph(root, "pkg")
    assert graph["pkg.x"] == {"pkg.sub.leaf"}
    assert graph["pkg.y"] == {"pkg.sub"}
    assert graph["pkg.z"] == {"pkg.sub.leaf"}
    assert graph["pkg.sub"] == {"pkg.sub.leaf"}


def test_cycles_are_reported_as_a_path() -> None:
    graph = {"m.a": {"m.b"}, "m.b": {"m.c"}, "m.c": {"m.a", "m.d"}, "m.d": set(), "m.e": {"m.e"}}
    assert cycles(graph) == [["m.a", "m.b", "m.c", "m.a"]]


def test_acct_pipeline_has_no_import_cycles() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 50 and "acct_pipeline.warehouse" in graph  # the walker found the package
    found = cycles(graph)
    assert not found, "import cycles in acct_pipeline:\n" + "\n".join(
        "  " + " -> ".join(path) for path in found
    )
