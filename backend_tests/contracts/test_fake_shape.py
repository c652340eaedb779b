"""Every fake in mocks/ has one shape (moto's discipline): the same seven modules, a state that knows
nothing of HTTP, respx routes matching exactly the paths of the app's routes (both come from one
table), and no import cycle anywhere in mocks/."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.routing import compile_path

from mocks.common.routes import path_regex

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

ROOT = Path(__file__).resolve().parents[2]
MOCKS = ROOT / "mocks"
SHAPE = ("state.py", "representations.py", "errors.py", "validation.py", "app.py", "router.py", "__main__.py")
HTTP_FRAMEWORKS = frozenset({"starlette", "httpx", "respx", "uvicorn", "fastapi", "h11"})
SERVICES = sorted(path.name for path in MOCKS.iterdir() if (path / "__init__.py").is_file() and path.name != "common")


def http_frameworks_loaded_by(module: str) -> set[str]:
    """The HTTP frameworks in sys.modules after importing `module` alone, in a fresh interpreter."""
    code = f"import json, sys, {module}; print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"importing {module} failed: {result.stderr}"
    return set(json.loads(result.stdout)) & HTTP_FRAMEWORKS


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run: those under `if TYPE_CHECKING:` do not."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            pending.append(child)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """mocks' modules -> the modules of mocks each imports (`from package import module` names the module)."""
    modules = {module_name(path): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for statement in runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base = importlib.util.resolve_name("." * statement.level + (statement.module or ""), package)
                targets = [f"{base}.{alias.name}" for alias in statement.names]
                targets = [target if target in modules else base for target in targets]
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as [a, b, ..., a], or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_there_are_fakes_to_check() -> None:
    assert {"e2b", "github", "llm"} <= set(SERVICES), f"mocks/ holds {SERVICES}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_fake_has_the_seven_modules_of_the_shape(service: str) -> None:
    missing = [name for name in SHAPE if not (MOCKS / service / name).is_file()]

    assert not missing, f"mocks/{service}/ lacks {missing} (see mocks/README.md)"


@pytest.mark.parametrize("service", SERVICES)
def test_the_state_of_every_fake_imports_no_http_framework(service: str) -> None:
    loaded = http_frameworks_loaded_by(f"mocks.{service}.state")

    assert not loaded, f"importing mocks.{service}.state loads {sorted(loaded)}: the state must be plain Python"


def test_the_http_check_sees_a_framework_when_one_is_imported() -> None:
    assert "starlette" in http_frameworks_loaded_by("mocks.common.routes")


@pytest.mark.parametrize("service", SERVICES)
def test_the_respx_routes_match_the_paths_the_app_routes_match(service: str) -> None:
    table = importlib.import_module(f"mocks.{service}.app").ROUTES
    starlette = {entry.path: re.sub(r"\(\?P<\w+>", "(?:", compile_path(entry.path)[0].pattern) for entry in table}

    assert {entry.path: f"^{path_regex(entry.path)}$" for entry in table} == starlette


def test_mocks_has_no_import_cycle() -> None:
    graph = import_graph(MOCKS)

    assert graph["mocks.e2b.app"] >= {"mocks.e2b.state", "mocks.e2b.envd"}, "the import graph misses imports"
    assert find_cycle(graph) is None, f"import cycle in mocks/: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
