"""The platform's modules import each other without cycles, and its processes start from `python -m app`.

An import inside a function counts as much as one at the top of a module: it runs later, but it
still ties the two modules together, and moving it to the top (or calling it at import time) turns
the tie into a partially initialised module.
"""

import ast
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

ROOT = Path(__file__).resolve().parents[2]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package by its `__init__.py`)."""
    modules = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that importing `name` (or calling any of its functions) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            # `from a import b` imports a, and a.b when b is a module rather than a name defined in a.
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    imported = set()
    for target in targets:
        parts = target.split(".")
        # Importing a.b.c runs a, a.b and a.b.c; a module's own packages are already running when it is.
        for length in range(1, len(parts) + 1):
            candidate = ".".join(parts[:length])
            if candidate in known and not (name == candidate or name.startswith(f"{candidate}.")):
                imported.add(candidate)
    return imported


def import_cycle(package_dir: Path) -> list[str] | None:
    """One import cycle among the package's modules, as the chain of modules; None when there is none."""
    modules = module_names(package_dir)
    graph = {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return None


def test_no_module_of_the_platform_imports_itself_through_others():
    cycle = import_cycle(ROOT / "app")

    assert cycle is None, f"app/ has an import cycle: {' -> '.join(reversed(cycle))}"


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "runtime.py").write_text("from pkg.worker import Worker\n")
    (package / "worker.py").write_text("class Worker: ...\n\ndef main():\n    from pkg import runtime\n")

    cycle = import_cycle(package)

    assert cycle is not None and set(cycle) == {"pkg.runtime", "pkg.worker"}, f"found {cycle}"


def test_the_cycle_check_sees_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "deps.py").write_text("from ..runtime import Runtime\n")
    (package / "runtime.py").write_text("from .api import deps\n")

    cycle = import_cycle(package)

    assert cycle is not None and set(cycle) == {"pkg.runtime", "pkg.api.deps"}, f"found {cycle}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-m", "app", "--help"], "--port"),
        (["-m", "app", "worker", "--help"], "worker"),
        (["-m", "app.worker", "--help"], "worker"),
    ],
    ids=["serve", "worker", "worker-alias"],
)
def test_each_process_of_the_platform_starts_from_python_m_app(argv, expected, tmp_path):
    # Should `--help` be taken for something else and start the process, it works on a database of its own.
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'squad.db'}"}

    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)

    assert done.returncode == 0, f"`python {' '.join(argv)}` exited {done.returncode}: {done.stderr}"
    assert expected in done.stdout, f"`python {' '.join(argv)}` printed {done.stdout!r}"
