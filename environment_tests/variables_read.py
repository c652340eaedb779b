"""Which environment variables the code reads, found by parsing it (no import, so nothing runs):
`os.environ.get("X")`, `environ["X"]`, `"X" in os.environ`, `os.getenv("X")`, the fakes' readers
(`keys_from_environment("X", ...)`, `number_from_environment("X")`), `env_var="X"` (a Locust option),
`variable="X"` (a service of fixtures/targets.py), and every field of a pydantic-settings `BaseSettings`
class (with its `env_prefix`)."""

import ast
from pathlib import Path

from environment_tests.environment_files import REPO_ROOT

# The code whose environment is a user's: the platform, the fakes, the harness and what make runs,
# the suites (their conftests and helpers), the load suite, the benchmarks, the browser settings.
# Not environment_tests: they set variables for the processes they check.
CODE = [
    "app",
    "mocks",
    "fixtures",
    "tools",
    "load",
    "backend_tests",
    "frontend_tests",
    "reliability_tests",
    "benchmarks",
    "playwright.config.py",
]
# Set by the system or by pytest itself, not by a user of this repository.
NOT_OURS = {"PATH", "HOME", "TMPDIR", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"}
KEYWORDS = {"env_var", "variable"}
# Functions whose first argument is the name of the variable they read (the fakes' in mocks/common/server.py).
READERS = {"getenv", "keys_from_environment", "number_from_environment"}


def _is_environ(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name == "environ" or name.endswith("_environ")


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value[:1].isupper():
        return node.value
    return None


def _settings_fields(tree: ast.Module) -> set[str]:
    """The variables of every `class X(BaseSettings)`: its fields, upper-cased, after its env_prefix."""
    names = set()
    for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
        bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in cls.bases}
        if "BaseSettings" not in bases:
            continue
        prefix = ""
        for node in ast.walk(cls):
            if isinstance(node, ast.keyword) and node.arg == "env_prefix" and isinstance(node.value, ast.Constant):
                prefix = str(node.value.value)
        for statement in cls.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                if statement.target.id != "model_config" and not statement.target.id.startswith("_"):
                    names.add((prefix + statement.target.id).upper())
    return names


def names_read(source: str) -> set[str]:
    tree = ast.parse(source)
    found: set[str | None] = set(_settings_fields(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in {"get", "pop", "setdefault"}
                and _is_environ(func.value)
            ):
                found.add(_string(node.args[0]) if node.args else None)
            elif getattr(func, "attr", getattr(func, "id", None)) in READERS:
                found.add(_string(node.args[0]) if node.args else None)
            found |= {_string(keyword.value) for keyword in node.keywords if keyword.arg in KEYWORDS}
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            found.add(_string(node.slice))
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            if any(_is_environ(right) for right in node.comparators):
                found.add(_string(node.left))
    return {name for name in found if name} - NOT_OURS


def python_files(names: list[str] | None = None) -> list[Path]:
    files = []
    for name in CODE if names is None else names:
        path = REPO_ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def variables_read(names: list[str] | None = None) -> dict[str, str]:
    """Environment variable -> the first file (relative to the repository) that reads it."""
    found: dict[str, str] = {}
    for path in python_files(names):
        for name in sorted(names_read(path.read_text())):
            found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    return found
