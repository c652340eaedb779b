"""The documents stay true to the code: the README's variable tables (every environment variable the
harness, the browser settings and the load suite read; every make variable a user may set; the fake
servers' variables), its make targets, DEPLOYMENT.md's settings and metrics, and the make targets of
make/environment.mk."""

import re

import pytest

from app.settings import Settings
from environment_tests.environment_files import MAKEFILES, REPO_ROOT
from fixtures.targets import TARGETS

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

# Read by the suites and the harness (besides the URLs `make health` checks).
SUITE_VARIABLES = {
    "TEST_DATABASE_URL",
    "E2B_API_KEY",
    "GITHUB_TOKEN",
    "CHROMIUM_PATH",
    "LOAD_SLO_P95_MS",
    "LOAD_SLO_MAX_FAILURE_RATIO",
}

# The code whose environment is the user's: the harness and its commands, the browser settings, the
# browser suite's conftests and the load suite (Locust options with an `env_var`).
USER_CODE = ["fixtures", "tools", "load", "frontend_tests", "playwright.config.py"]
# `os.environ.get("X")`, `environ["X"]`, `getenv("X")`, `env_var="X"` (a Locust option),
# `variable="X"` (a service of fixtures/targets.py), `Settings().x`.
READS = [
    re.compile(r"""(?:environ\.get|environ\.pop|environ\.setdefault|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    re.compile(r"""(?:env_var|variable)\s*=\s*["']([A-Z][A-Z0-9_]*)["']"""),
]
SETTINGS_READ = re.compile(r"Settings\(\)\.([a-z][a-z0-9_]*)")
# Set by the system or by pytest itself, not by a user of the suites.
NOT_OURS = {"PATH", "HOME", "TMPDIR", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"}


def _python_files(*names: str) -> list:
    files = []
    for name in names:
        path = REPO_ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def variables_read(*names: str) -> dict[str, str]:
    """Environment variable -> the first file (relative) that reads it, in the given files and folders."""
    found: dict[str, str] = {}
    for path in _python_files(*names):
        text = path.read_text()
        names_read = {name for pattern in READS for name in pattern.findall(text)}
        names_read |= {field.upper() for field in SETTINGS_READ.findall(text) if field in Settings.model_fields}
        for name in sorted(names_read - NOT_OURS):
            found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    return found


def make_variables() -> dict[str, str]:
    """The variables a user may give make (`NAME ?= default`) -> the makefile that declares them."""
    found: dict[str, str] = {}
    for makefile in MAKEFILES:
        for name in re.findall(r"^([A-Z][A-Z0-9_]*)\s*\?=", makefile.read_text(), re.MULTILINE):
            found.setdefault(name, str(makefile.relative_to(REPO_ROOT)))
    return found


def make_targets() -> set[str]:
    return {
        target
        for makefile in MAKEFILES
        for target in re.findall(r"^([a-z][a-z0-9-]*):(?!=)", makefile.read_text(), re.MULTILINE)
    }


def _section(path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"\n{heading}\n")
    following = re.search(r"\n## ", text[start + len(heading) + 2 :])
    return text[start : start + len(heading) + 2 + following.start()] if following else text[start:]


def _first_column_names(markdown: str) -> set[str]:
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_readme_variable_table_has_every_variable_the_suites_read():
    documented = _first_column_names(_section(REPO_ROOT / "README.md", "## Environment variables"))
    expected = SUITE_VARIABLES | {service.variable for service in TARGETS}
    assert expected <= documented, f"README's table lacks {sorted(expected - documented)}"


def test_readme_variable_tables_have_every_variable_the_harness_and_the_load_suite_read():
    documented = _first_column_names(_section(REPO_ROOT / "README.md", "## Environment variables"))
    read = variables_read(*USER_CODE)
    assert {"SQUAD_BASE_URL", "TEST_DATABASE_URL", "LOAD_SOAK_MINUTES", "CHROMIUM_PATH"} <= set(read), (
        f"the scan of {USER_CODE} found too little, so it is broken: {sorted(read)}"
    )
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"README's environment tables lack (variable: read in) {missing}"


def test_readme_variable_tables_have_every_make_variable_a_user_can_set():
    documented = _first_column_names(_section(REPO_ROOT / "README.md", "## Environment variables"))
    declared = make_variables()
    assert {"TIER", "WORKERS", "LOAD_ARGS"} <= set(declared), f"the makefiles' `?=` scan found {declared}"
    missing = {name: where for name, where in declared.items() if name not in documented}
    assert not missing, f"README's environment tables lack the make variables (variable: makefile) {missing}"


def test_readme_documents_every_variable_of_the_fake_servers():
    documented = _first_column_names(_section(REPO_ROOT / "README.md", "## The fakes"))
    read = variables_read("mocks/e2b/__main__.py", "mocks/github/__main__.py")
    assert read, "the fake servers read no variable at all: the scan is broken"
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"README's fake-server table lacks (variable: read in) {missing}"


def test_the_readme_names_where_the_platforms_own_settings_are_documented():
    section = _section(REPO_ROOT / "README.md", "## Environment variables")
    assert "DEPLOYMENT.md" in section, "README's environment section must point at DEPLOYMENT.md for app/ settings"


def test_readme_lists_every_make_target_once_in_its_make_targets_table():
    table = _section(REPO_ROOT / "README.md", "## Make targets")
    listed = re.findall(r"^\| `make ([a-z][a-z0-9-]*)` \|", table, re.MULTILINE)
    duplicates = sorted({target for target in listed if listed.count(target) > 1})
    assert not duplicates, f"make targets listed twice: {duplicates}"
    missing = sorted(make_targets() - set(listed))
    assert not missing, f"README's make targets table lacks {missing}"
    unknown = sorted(set(listed) - make_targets())
    assert not unknown, f"README's make targets table lists targets no makefile defines: {unknown}"


def test_deployment_guide_documents_every_setting_of_the_platform():
    documented = _first_column_names(_section(REPO_ROOT / "DEPLOYMENT.md", "## Environment variables"))
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented == set(), f"DEPLOYMENT.md lacks {sorted(settings - documented)}"
    assert documented - settings == set(), f"DEPLOYMENT.md documents unknown {sorted(documented - settings)}"


def test_deployment_guide_documents_every_metric():
    metrics_source = (REPO_ROOT / "app" / "metrics.py").read_text()
    names = set(re.findall(r"\"(squad_[a-z0-9_]+)\"", metrics_source))
    guide = _section(REPO_ROOT / "DEPLOYMENT.md", "## Metrics")
    missing = sorted(name for name in names if f"`{name}" not in guide)
    assert names and not missing, f"DEPLOYMENT.md's metrics lack {missing} (defined in app/metrics.py: {names})"


def test_every_environment_make_target_is_documented():
    makefile = (REPO_ROOT / "make" / "environment.mk").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]+):", makefile, re.MULTILINE))
    docs = "".join((REPO_ROOT / name).read_text() for name in ("README.md", "TESTING.md", "DEPLOYMENT.md"))
    undocumented = sorted(target for target in targets if f"make {target}" not in docs and f"`{target}`" not in docs)
    assert not undocumented, f"make targets no document mentions: {undocumented}"
