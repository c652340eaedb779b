"""The documents stay true to the code: the README's variable table, DEPLOYMENT.md's settings and
metrics, and the make targets of make/environment.mk."""

import re

import pytest

from app.settings import Settings
from backend_tests.environment.environment_files import REPO_ROOT
from fixtures import health

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
    expected = SUITE_VARIABLES | {service.variable for service in health.HTTP_SERVICES}
    assert expected <= documented, f"README's table lacks {sorted(expected - documented)}"


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
