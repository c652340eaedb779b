"""Which of pyproject.toml's dependencies each image of the Dockerfile installs, one per line.

    python requirements.py runtime    the platform and the fakes: no pytest, Playwright or Locust
    python requirements.py load       runtime + Locust and what the Locust users import
    python requirements.py browser    everything: the browser suite runs pytest with the whole harness

Every dependency is in exactly one group below; a dependency that is in none stops the build
(environment_tests/test_dockerfile.py checks the same without building), so a new one is never
silently left out of an image. Standard library only: it runs before anything is installed.
"""

import re
import sys
import tomllib
from pathlib import Path

# The platform (app/) and the fakes (mocks/, whose in-process transport is respx), and the commands
# the runtime image runs besides them (tools.health, for the worker's healthcheck).
RUNTIME = {
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "sse-starlette",
    "httpx",
    "pydantic-settings",
    "prometheus-client",
    "sentry-sdk",
    "uvloop",
    "httptools",
    "orjson",
    "respx",
}
# The Locust users (load/) and the harness parts they import (fixtures.factories, the SSE client).
LOAD = {"locust", "faker", "httpx-sse"}
# The pytest harness and the browser suite.
BROWSER = {
    "pytest",
    "pytest-asyncio",
    "pytest-xdist",
    "pytest-timeout",
    "pytest-cov",
    "pytest-randomly",
    "playwright",
    "pytest-playwright",
    "axe-playwright-python",
    # the visual regression tests' pixel comparison
    "pillow",
}
IMAGES = {"runtime": RUNTIME, "load": RUNTIME | LOAD, "browser": RUNTIME | LOAD | BROWSER}


def name_of(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def requirements(image: str, pyproject: Path) -> list[str]:
    # The platform's own dependencies and the [test] extra (the suites' tools); not [dev], whose
    # linters and gates no image runs.
    project = tomllib.loads(pyproject.read_text())["project"]
    dependencies = project["dependencies"] + project.get("optional-dependencies", {}).get("test", [])
    unplaced = sorted({name_of(r) for r in dependencies} - (RUNTIME | LOAD | BROWSER))
    if unplaced:
        raise SystemExit(f"deploy/images/requirements.py puts no image's name on {unplaced}: add each to a group")
    return [r for r in dependencies if name_of(r) in IMAGES[image]]


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in IMAGES:
        raise SystemExit(f"usage: python requirements.py {{{','.join(IMAGES)}}}")
    sys.stdout.write("\n".join(requirements(sys.argv[1], Path("pyproject.toml"))) + "\n")
