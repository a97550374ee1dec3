"""The mock's import graph: layers a newcomer can see, and no cycle anywhere in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each set of modules that import one another, directly or not (Tarjan's strongly connected components)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return found


def test_no_module_of_the_mock_imports_itself_back() -> None:
    """Counting every import: inside functions, and those only a type checker reads."""
    assert cycles(grimp.build_graph("mockserver", exclude_type_checking_imports=False)) == []


def test_a_cycle_is_found_where_there_is_one() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_the_layers_hold() -> None:
    """``pyproject.toml``'s import contracts: each layer imports only those below it; the engine no I/O."""
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([lint], check=False, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def concrete_store_checks(root: Path) -> list[str]:
    """Each ``isinstance`` outside ``mockserver/stores`` that names a concrete store class."""
    import ast

    stores = {"MemoryStore", "SqliteStore", "RedisStore", "SqliteRules", "RedisRules", "MemoryRules"}
    found = []
    for path in sorted((root / "mockserver").rglob("*.py")):
        if "stores" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                named = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "") for n in ast.walk(node.args[1])}
                if named & stores:
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_only_the_stores_package_knows_which_backend_is_in_use(tmp_path: Path) -> None:
    assert concrete_store_checks(ROOT) == []
    planted = tmp_path / "mockserver" / "service.py"
    planted.parent.mkdir()
    planted.write_text("def f(store):\n    return isinstance(store, RedisStore)\n")
    assert concrete_store_checks(tmp_path) == ["mockserver/service.py:2"]
