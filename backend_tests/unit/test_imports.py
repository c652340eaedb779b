"""The layout's import rules (DESIGN.md, section 2), read from the source by fixtures/imports.py: the
packages every suite shares (app/, mocks/, fixtures/, tools/) import one another without a cycle, and
no suite imports a conftest.py or a module of another suite (what two suites share lives in fixtures/).

An import inside a function counts as much as one at the top of a module: it runs later, but it
still ties the two modules together, and moving it to the top (or calling it at import time) turns
the tie into a partially initialised module.
"""

import pytest

from fixtures.imports import (
    ROOT,
    SHARED_PACKAGES,
    SUITES,
    cross_suite_imports,
    find_cycle,
    import_cycle,
    import_graph,
    module_names,
)

# The level is each test's own: the cycle finder's plain-graph check is still a contract test, and runs in
# the contract tier (make test-contracts) as it did beside the fakes' shape checks.
pytestmark = pytest.mark.priority_p1


# -- no import cycle ------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_app_mocks_fixtures_and_tools_import_one_another_without_a_cycle():
    graph = import_graph(module_names(*(ROOT / package for package in SHARED_PACKAGES)))

    assert graph["mocks.e2b.app"] >= {"mocks.e2b.state", "mocks.e2b.envd"}, "the import graph misses imports"
    assert {"app.runtime", "app.db"} <= graph["fixtures.inprocess"], "the graph misses imports inside functions"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


@pytest.mark.unit
def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "runtime.py").write_text("from pkg.worker import Worker\n")
    (package / "worker.py").write_text("class Worker: ...\n\ndef main():\n    from pkg import runtime\n")

    cycle = import_cycle(package)

    assert cycle is not None and set(cycle) == {"pkg.runtime", "pkg.worker"}, f"found {cycle}"


@pytest.mark.unit
def test_the_cycle_check_sees_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "deps.py").write_text("from ..runtime import Runtime\n")
    (package / "runtime.py").write_text("from .api import deps\n")

    cycle = import_cycle(package)

    assert cycle is not None and set(cycle) == {"pkg.runtime", "pkg.api.deps"}, f"found {cycle}"


@pytest.mark.unit
def test_the_cycle_check_leaves_out_imports_only_type_checkers_run(tmp_path):
    files = {
        "__init__.py": "",
        "runtime.py": "from pkg.worker import Worker\n",
        "worker.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg import runtime\n",
    }
    (tmp_path / "pkg").mkdir()
    for name, text in files.items():
        (tmp_path / "pkg" / name).write_text(text)

    assert import_cycle(tmp_path / "pkg") is None, "an import under TYPE_CHECKING never runs"


@pytest.mark.contract
def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# -- no suite imports another -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_no_suite_imports_a_conftest_or_a_module_of_another_suite():
    scanned = module_names(*(ROOT / suite for suite in SUITES))
    assert {"backend_tests.unit.test_imports", "reliability_tests.security.test_fakes_fuzz"} <= set(scanned), (
        f"the scan of {SUITES} missed modules: it found {len(scanned)}"
    )

    found = cross_suite_imports(ROOT)

    assert found == [], "suites import what is not theirs:\n" + "\n".join(found)


@pytest.mark.unit
def test_the_suite_check_finds_a_conftest_and_another_suites_module_wherever_they_are_imported(tmp_path):
    files = {
        "backend_tests/contracts/checker.py": "def check(): ...\n",
        "backend_tests/unit/test_own.py": "from backend_tests.contracts.checker import check\n",
        "reliability_tests/security/test_fuzz.py": "from backend_tests.contracts.checker import check\n",
        "frontend_tests/flows/test_board.py": "def test_x():\n    from conftest import board\n",
        "load/users.py": "pytest_plugins = ['environment_tests.environment_files']\nfrom fixtures import factories\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)

    found = cross_suite_imports(tmp_path)

    assert [line.split(" (")[0] for line in found] == [
        "frontend_tests/flows/test_board.py: imports conftest",
        "load/users.py: imports environment_tests.environment_files",
        "reliability_tests/security/test_fuzz.py: imports backend_tests.contracts.checker",
    ], found
