"""The layering rules, read from the source: the engine (`pipelines/`) knows nothing of Dagster
or of the Dagster layer (`assets/`), and no package imports another in a loop.

Every import counts, also one inside a function: a lazy import hides a loop, it does not remove
it. Modules are grouped into packages (`pipelines.ingest`, `pipelines.config`, `assets`) because
a loop between packages is what makes a stage impossible to change on its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = _module_name(path).split(".")
                base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _modules() -> dict[str, set[str]]:
    out = {}
    for top in ("pipelines", "assets"):
        for path in sorted((ROOT / top).rglob("*.py")):
            out[_module_name(path)] = _imports(path)
    return out


def _package(module: str) -> str:
    """`pipelines.ingest.load` -> `pipelines.ingest`; `pipelines.config` stays; `assets.x` ->
    `assets`."""
    parts = module.split(".")
    if parts[0] == "assets":
        return "assets"
    return ".".join(parts[:2])


def _package_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, imports in modules.items():
        src = _package(module)
        graph.setdefault(src, set())
        for name in imports:
            if name.split(".")[0] not in ("pipelines", "assets"):
                continue
            target = _package(name)
            if target != src and target in {_package(m) for m in modules}:
                graph[src].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_engine_imports_neither_dagster_nor_the_dagster_layer():
    offenders = {
        module: sorted(n for n in imports if n.split(".")[0] in ("dagster", "assets"))
        for module, imports in _modules().items()
        if module.startswith("pipelines")
    }
    assert {m: n for m, n in offenders.items() if n} == {}


def test_no_import_loop_between_packages():
    assert _cycles(_package_graph()) == []


def test_the_check_sees_a_loop_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
