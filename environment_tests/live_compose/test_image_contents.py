"""What each image built from the Dockerfile holds, checked by importing inside it: the runtime
image carries the platform and the fakes and none of the suites' tools; the runners carry theirs."""

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p1]

IMPORTS = (
    "import importlib.util, json, sys; "
    "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
)
TOOLS = ["pytest", "playwright", "locust"]
PLATFORM = ["app.main", "app.worker", "mocks.e2b", "mocks.github", "mocks.llm", "tools.health", "uvicorn", "asyncpg"]


def _importable(live_engine, image: str, modules: list[str]) -> dict[str, bool]:
    ran = live_engine.run([live_engine.docker, "run", "--rm", "--entrypoint", "python", image, "-c", IMPORTS, *modules])
    assert ran.returncode == 0, f"python in {image}: {ran.stderr}"
    return json.loads(ran.stdout)


def _has_file(live_engine, image: str, path: str) -> bool:
    ran = live_engine.run([live_engine.docker, "run", "--rm", "--entrypoint", "test", image, "-x", path])
    return ran.returncode == 0


def test_the_runtime_image_has_the_platform_and_the_fakes_and_no_suite_tools(live_engine):
    found = _importable(live_engine, "agent-squad-tests:local", PLATFORM + TOOLS)
    assert all(found[module] for module in PLATFORM), f"missing from the runtime image: {found}"
    assert not any(found[tool] for tool in TOOLS), f"suite tools in the runtime image: {found}"
    assert _has_file(live_engine, "agent-squad-tests:local", "/usr/bin/bwrap"), "no bubblewrap for the fake E2B"


def test_the_browser_image_has_pytest_playwright_and_debians_chromium(live_engine):
    found = _importable(live_engine, "agent-squad-tests:browser", ["pytest", "playwright", "pytest_playwright"])
    assert all(found.values()), f"the browser image lacks: {found}"
    assert _has_file(live_engine, "agent-squad-tests:browser", "/usr/bin/chromium"), "no /usr/bin/chromium"


def test_the_load_image_has_locust_and_no_browser(live_engine):
    # pytest is there as Locust's own dependency; Playwright and the browser are the browser image's.
    found = _importable(live_engine, "agent-squad-tests:load", ["locust", "faker", "playwright", "pytest_playwright"])
    assert found["locust"] and found["faker"], f"the load image lacks Locust or its users' imports: {found}"
    assert not found["playwright"] and not found["pytest_playwright"], f"the load image carries the browser's: {found}"
    assert not _has_file(live_engine, "agent-squad-tests:load", "/usr/bin/chromium"), "Chromium in the load image"
