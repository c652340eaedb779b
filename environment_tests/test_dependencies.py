"""The dependencies as pyproject.toml declares them: a runtime free of test tools, floors that the
floors file pins exactly, one constraints file every install takes, Dependabot, the audit's verdicts,
and complete project metadata."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from environment_tests.environment_files import DOCKERFILE, REPO_ROOT, dockerfile_stages
from tools.audit import CANNOT_REACH, read_report, verdict

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
FLOORS = REPO_ROOT / "requirements" / "floors.constraints"
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
# Modules of the test tools: none may be a runtime dependency, or be imported by the platform or a fake.
TEST_TOOL_DISTRIBUTIONS = {
    "pytest",
    "playwright",
    "locust",
    "respx",
    "faker",
    "httpx-sse",
    "axe-playwright-python",
    "ruff",
    "mypy",
    "schemathesis",
    "mutmut",
    "hypothesis",
}
TEST_TOOL_MODULES = {"pytest", "_pytest", "playwright", "locust", "respx", "faker", "httpx_sse", "hypothesis"}


def name_of(requirement: str) -> str:
    """The normalized distribution name of a requirement string (`sqlalchemy[asyncio]>=2.0` -> sqlalchemy)."""
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def floor_of(requirement: str) -> str | None:
    found = re.search(r">=\s*([\w.]+)", requirement)
    return found.group(1) if found else None


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[name.lower().replace("_", "-")] = version
    return found


def direct_requirements() -> list[str]:
    extras = [req for extra in PROJECT["optional-dependencies"].values() for req in extra]
    return [req for req in PROJECT["dependencies"] + extras if not req.startswith(PROJECT["name"])]


def test_the_runtime_dependencies_are_free_of_test_tools():
    runtime = {name_of(req) for req in PROJECT["dependencies"]}
    assert not runtime & TEST_TOOL_DISTRIBUTIONS, (
        f"test tools among the runtime dependencies: {runtime & TEST_TOOL_DISTRIBUTIONS}"
    )
    test_extra = {name_of(req) for req in PROJECT["optional-dependencies"]["test"]}
    assert {"pytest", "playwright", "locust"} <= test_extra, f"the [test] extra lacks the suites' runners: {test_extra}"


def test_the_platform_and_the_fake_servers_import_no_test_tool():
    """What `python -m app` and `python -m mocks.<service>` load, without the [test] extra."""
    program = (
        "import sys, app.__main__, app.processes, tools.health\n"
        "import mocks.e2b.__main__, mocks.github.__main__, mocks.llm.__main__\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split()) & TEST_TOOL_MODULES
    assert not loaded, f"the platform or a fake server imports test tools: {sorted(loaded)}"


def test_the_floors_file_pins_every_floor_of_pyproject_exactly():
    declared = {
        name_of(req): floor_of(req) for req in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
    }
    without_floor = sorted(name for name, floor in declared.items() if floor is None)
    assert not without_floor, f"dependencies without a `>=` floor: {without_floor}"
    pinned = pins(FLOORS)
    differing = {
        name: (floor, pinned.get(name))
        for name, floor in declared.items()
        if _same_release(pinned.get(name) or "", floor or "") is False
    }
    assert not differing, f"pyproject floor vs floors file (name: (pyproject, file)): {differing}"
    assert set(pinned) == set(declared), (
        f"the floors file pins what pyproject does not declare: {set(pinned) - set(declared)}"
    )


def test_the_constraints_file_pins_every_direct_dependency_within_its_range():
    pinned = pins(CONSTRAINTS)
    missing = sorted({name_of(req) for req in direct_requirements()} - set(pinned))
    assert not missing, f"requirements/constraints.txt does not pin {missing}: run make lock"
    below = {
        name_of(req): (floor_of(req), pinned[name_of(req)])
        for req in direct_requirements()
        if floor_of(req) and _version(pinned[name_of(req)]) < _version(floor_of(req) or "0")
    }
    assert not below, f"locked below pyproject's floor (name: (floor, locked)): {below}: run make lock"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:4])


def _same_release(one: str, other: str) -> bool:
    """1.13 and 1.13.0 name one release."""

    def trimmed(text: str) -> tuple[int, ...]:
        parts = list(_version(text))
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    return bool(one and other) and trimmed(one) == trimmed(other)


def test_make_setup_ci_and_the_dockerfile_install_from_the_constraints_file(repo_root):
    setup = subprocess.run(
        ["make", "-n", "-B", "VENV=/nonexistent/venv", "/nonexistent/venv/.installed-stamp"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "--constraint requirements/constraints.txt" in setup.stdout, f"make setup installs:\n{setup.stdout}"
    base = dockerfile_stages(DOCKERFILE)["base"]
    assert any("--constraint requirements/constraints.txt" in run for run in base.run), (
        f"the Dockerfile runs {base.run}"
    )
    assert "requirements/constraints.txt" in base.copied, f"the Dockerfile copies {base.copied}"


def test_dependabot_watches_python_and_the_workflows_actions(repo_root):
    import yaml

    config = yaml.safe_load((repo_root / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert {"pip", "github-actions"} <= set(ecosystems), f"Dependabot watches {sorted(ecosystems)}"
    assert ecosystems["pip"]["directory"] == "/" and ecosystems["github-actions"]["directory"] == "/"
    # Every npm package of the repository (its package.json, outside node_modules) is watched.
    tracked = subprocess.run(
        ["git", "ls-files", "*package.json"], cwd=repo_root, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    npm_folders = {"/" + str(Path(path).parent) for path in tracked if Path(path).name == "package.json"}
    watched = set(ecosystems.get("npm", {}).get("directories", []))
    assert npm_folders <= watched, f"npm packages Dependabot does not watch: {sorted(npm_folders - watched)}"
    assert not list(repo_root.glob("requirements/*floors*.txt")), "Dependabot would raise the floors in a .txt file"


@pytest.mark.parametrize(
    ("report", "code"),
    [
        ({"dependencies": [{"name": "fastapi", "version": "0.115.0", "vulns": []}]}, 0),
        (
            {
                "dependencies": [
                    {"name": "h11", "version": "0.14.0", "vulns": [{"id": "GHSA-x", "fix_versions": ["0.16.0"]}]}
                ]
            },
            1,
        ),
        (
            {
                "dependencies": [
                    {
                        "name": "fastapi",
                        "skip_reason": "Dependency not found on PyPI and could not be audited: fastapi (0.115.0)",
                    }
                ]
            },
            CANNOT_REACH,
        ),
    ],
    ids=["clean", "vulnerable", "offline"],
)
def test_the_audit_passes_fails_or_says_it_could_not_ask(report, code):
    exit_code, lines = verdict(read_report(json.loads(json.dumps(report))))
    assert exit_code == code, lines
    if code == 1:
        assert any("h11 0.14.0: GHSA-x (fixed in 0.16.0)" in line for line in lines), lines
    if code == CANNOT_REACH:
        assert any("make audit" in line and "internet" in line for line in lines), lines


def test_the_project_metadata_is_complete(repo_root):
    for field in ("description", "readme", "license", "authors", "keywords", "classifiers", "urls", "requires-python"):
        assert PROJECT.get(field), f"pyproject.toml [project] has no {field}"
    assert PROJECT["license"] == "MIT"
    license_text = (repo_root / "LICENSE").read_text()
    assert license_text.startswith("MIT License"), "LICENSE is not the MIT licence the metadata names"
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in PROJECT["classifiers"])
    assert {"Repository", "Issues"} <= set(PROJECT["urls"]), PROJECT["urls"]
