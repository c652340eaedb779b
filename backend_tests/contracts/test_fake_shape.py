"""Every fake in mocks/ has one shape (moto's discipline): the same seven modules, a state that knows
nothing of HTTP, and respx routes matching exactly the paths of the app's routes (both come from one
table). That mocks/ imports itself without a cycle is checked with the other import rules, in
backend_tests/unit/test_imports.py."""

from __future__ import annotations

import importlib
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
