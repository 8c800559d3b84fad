"""The house keeps its shape: imports run down the layers of docs/architecture.md, in no circle.

Every import counts: at module level, inside functions and under
TYPE_CHECKING alike, since each is a dependency a reader has to follow. The
layer table below is the one docs/architecture.md states; change both together.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "clusterous"
DOC = PACKAGE.parent / "docs" / "architecture.md"
MAX_LINES = 450

# From the top down: a layer imports only layers below it. Peers on one floor
# do not import each other.
FLOORS: list[set[str]] = [
    {"__main__"},
    {"cli"},
    {"operations"},
    {"jobs"},
    {"environments"},
    {"manager"},
    {"providers"},
    {"aws", "engine", "node"},
    {"remote"},
    {"config", "formats"},
    {"records", "home", "__init__"},
    {"cancel"},
    {"errors"},
]
# The CLI parses, calls one operation and renders: it reaches no machinery.
CLI_MAY_IMPORT = {
    *("operations", "records", "formats", "config", "home", "cancel", "errors", "__init__"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """The layer a module belongs to: its first package under clusterous (or the file)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every clusterous name ``path`` imports, anywhere in the file, with its line.

    ``from a.b import c`` yields ``a.b.c``: the submodule c when there is one,
    else a name in ``a.b`` (``graph`` walks back to the module that exists).
    """
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # a submodule, or a name in base


def graph() -> dict[str, dict[str, int]]:
    """module -> {imported clusterous module: line}, for the modules that exist."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        found: dict[str, int] = {}
        for target, line in imports_of(path):
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target.startswith("clusterous.") and target != module:
                found.setdefault(target, line)
        edges[module] = found
    return edges


def floor_of(layer: str) -> int:
    for number, floor in enumerate(FLOORS):
        if layer in floor:
            return number
    raise AssertionError(f"layer {layer!r} is on no floor: add it to FLOORS and to {DOC.name}")


def test_every_import_runs_down_the_layers() -> None:
    wrong = []
    for module, targets in sorted(graph().items()):
        here = room(module)
        for target, line in targets.items():
            there = room(target)
            if there == here:
                continue
            if floor_of(there) <= floor_of(here):
                wrong.append(f"{module}:{line} imports {target} ({here} -> {there})")
            elif here == "cli" and there not in CLI_MAY_IMPORT:
                wrong.append(f"{module}:{line} imports {target} (cli reaches {there})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_modules_import_each_other_in_a_circle() -> None:
    edges = graph()
    circles = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, {})):
            if state.get(target) == "open":
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_architecture_page_states_the_same_floors() -> None:
    text = DOC.read_text()
    table = re.findall(r"^\|\s*(\d+)\s*\|([^|]+)\|", text, re.MULTILINE)
    stated = {int(n): {w.strip(" `/") for w in names.split(",")} for n, names in table}
    expected = {len(FLOORS) - i: floor - {"__init__", "__main__"} for i, floor in enumerate(FLOORS)}
    expected = {n: layers for n, layers in expected.items() if layers}
    assert stated == expected


@pytest.mark.parametrize(
    "module", [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))]
)
def test_no_module_is_over_the_size_limit(module: str) -> None:
    lines = len((PACKAGE / module).read_text().splitlines())
    assert lines <= MAX_LINES, (
        f"clusterous/{module} has {lines} lines (limit {MAX_LINES}): split it"
    )


def test_the_walker_sees_imports_inside_functions_and_type_checking() -> None:
    edges = graph()
    # operations.clusters imports operations.environments at module level, and
    # cli commands import operations inside their functions.
    assert "clusterous.operations.environments" in edges["clusterous.operations.clusters"]
    assert "clusterous.operations.clusters" in edges["clusterous.cli.create_cmd"]
    assert "clusterous.operations.teardown" in edges["clusterous.cli.destroy_cmd"]
