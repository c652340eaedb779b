"""Fixtures of the contract tests: the fakes on a thread server, their respx routers, the official specs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from backend_tests.contracts.openapi_contract import ContractGuard, ServiceContract, component_problems
from mocks.common.server import ServerHandle, serve_in_thread
from mocks.common.service import FakeService
from mocks.e2b import FakeE2B
from mocks.e2b.app import build_app as build_e2b_app
from mocks.e2b.router import e2b_router
from mocks.github import FakeGitHub
from mocks.github.app import build_app as build_github_app
from mocks.github.router import github_router
from mocks.llm import FakeLLM
from mocks.llm.app import build_app as build_llm_app
from mocks.llm.router import llm_router

E2B_KEY = "e2b_" + "ab12" * 10
GITHUB_TOKEN = "ghp_contract_token"
LLM_KEY = "sk-contract-" + "c0ffee" * 6


# -- the fakes: one object per worker session, served in a thread; state reset after every test --------
@pytest.fixture(scope="session")
def e2b_server() -> Iterator[tuple[FakeE2B, ServerHandle]]:
    fake = FakeE2B([E2B_KEY])
    observed(fake, "e2b")
    server = serve_in_thread(build_e2b_app(fake))
    yield fake, server
    server.stop()
    fake.close()


@pytest.fixture(scope="session")
def e2b_api_key() -> str:
    return E2B_KEY


@pytest.fixture(scope="session")
def github_token() -> str:
    return GITHUB_TOKEN


@pytest.fixture
def fake_e2b(e2b_server: tuple[FakeE2B, ServerHandle]) -> Iterator[FakeE2B]:
    fake, _ = e2b_server
    yield fake
    fake.reset()


@pytest.fixture
def e2b_url(e2b_server: tuple[FakeE2B, ServerHandle], fake_e2b: FakeE2B) -> str:
    """The fake E2B server's URL (the fake is reset after the test, like with `fake_e2b`)."""
    return e2b_server[1].url


@pytest.fixture
def e2b_sdk_env(monkeypatch: pytest.MonkeyPatch, e2b_url: str) -> str:
    """Point the official e2b SDK at the fake server; returns the API key it will use."""
    monkeypatch.setenv("E2B_API_URL", e2b_url)
    monkeypatch.setenv("E2B_SANDBOX_URL", e2b_url)
    monkeypatch.setenv("E2B_API_KEY", E2B_KEY)
    monkeypatch.delenv("E2B_DOMAIN", raising=False)
    monkeypatch.delenv("E2B_DEBUG", raising=False)
    return E2B_KEY


@pytest.fixture(scope="session")
def github_server() -> Iterator[tuple[FakeGitHub, ServerHandle]]:
    fake = FakeGitHub([GITHUB_TOKEN])
    observed(fake, "github")
    server = serve_in_thread(build_github_app(fake))
    fake.git_base_url = server.url  # git is a subprocess: it always reaches this real server
    yield fake, server
    server.stop()
    fake.close()


@pytest.fixture
def fake_github(github_server: tuple[FakeGitHub, ServerHandle]) -> Iterator[FakeGitHub]:
    fake, _ = github_server
    yield fake
    fake.reset()


@pytest.fixture
def github_url(github_server: tuple[FakeGitHub, ServerHandle], fake_github: FakeGitHub) -> str:
    """The fake GitHub server's URL (the fake is reset after the test, like with `fake_github`)."""
    return github_server[1].url


@pytest.fixture(scope="session")
def llm_server() -> Iterator[tuple[FakeLLM, ServerHandle]]:
    fake = FakeLLM([LLM_KEY])
    observed(fake, "openai")
    server = serve_in_thread(build_llm_app(fake))
    yield fake, server
    server.stop()


@pytest.fixture(scope="session")
def llm_api_key() -> str:
    return LLM_KEY


@pytest.fixture
def fake_llm(llm_server: tuple[FakeLLM, ServerHandle]) -> Iterator[FakeLLM]:
    fake, _ = llm_server
    yield fake
    fake.reset()


@pytest.fixture
def llm_url(llm_server: tuple[FakeLLM, ServerHandle], fake_llm: FakeLLM) -> str:
    """The fake LLM server's URL (its API is under /v1; the fake is reset after the test, like with `fake_llm`)."""
    return llm_server[1].url


# -- the same fakes through respx ---------------------------------------------------------------------------
# Built once per session (building one costs milliseconds: the fake's app and its routes) and started per
# test: respx snapshots a router when it starts and rolls back a test's route changes and calls when it stops.
@pytest.fixture(scope="session")
def _built_e2b_router(e2b_server: tuple[FakeE2B, ServerHandle]) -> respx.MockRouter:
    return e2b_router(e2b_server[0])


@pytest.fixture(scope="session")
def _built_github_router(github_server: tuple[FakeGitHub, ServerHandle]) -> respx.MockRouter:
    fake, server = github_server
    # The thread server stays reachable (git and admin calls) while respx answers api.github.com.
    return github_router(fake, passthrough_urls=(server.url,))


@pytest.fixture(scope="session")
def _built_llm_router(llm_server: tuple[FakeLLM, ServerHandle]) -> respx.MockRouter:
    fake, server = llm_server
    return llm_router(fake, passthrough_urls=(server.url,))


@pytest.fixture
def e2b_routes(_built_e2b_router: respx.MockRouter, fake_e2b: FakeE2B) -> Iterator[respx.MockRouter]:
    """The fake E2B answering E2B's own URLs (api.e2b.app, envd) in process, for this test."""
    with _built_e2b_router as router:
        yield router


@pytest.fixture
def github_routes(_built_github_router: respx.MockRouter, fake_github: FakeGitHub) -> Iterator[respx.MockRouter]:
    """The fake GitHub answering api.github.com in process, for this test."""
    with _built_github_router as router:
        yield router


@pytest.fixture
def llm_routes(_built_llm_router: respx.MockRouter, fake_llm: FakeLLM) -> Iterator[respx.MockRouter]:
    """The fake LLM answering https://api.openai.com/v1 in process, for this test."""
    with _built_llm_router as router:
        yield router


# -- real git ---------------------------------------------------------------------------------------------
class Git:
    """Runs the real git client, isolated from the user's configuration and unable to prompt."""

    def __init__(self, home: Path) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Squad Agent",
            "GIT_AUTHOR_EMAIL": "agent@example.com",
            "GIT_COMMITTER_NAME": "Squad Agent",
            "GIT_COMMITTER_EMAIL": "agent@example.com",
            "LANG": "C",
        }

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    return Git(home)


# -- the official API descriptions ----------------------------------------------------------------------
GUARD = ContractGuard()


@pytest.fixture(autouse=True)
def responses_follow_the_official_schemas() -> Iterator[None]:
    """Fail the test when any response a fake gave during it breaks the official description."""
    GUARD.take_violations()
    yield
    violations = GUARD.take_violations()
    if violations:
        pytest.fail(
            "responses of the fakes that break the official API descriptions:\n  " + "\n  ".join(violations),
            pytrace=False,
        )


def observed(fake: FakeService, service: str) -> None:
    """Check every response of `fake` against the official description of `service` ("e2b", "github", "openai")."""
    fake.add_response_observer(GUARD.observer(ServiceContract(service)))


class SchemaCheck:
    def __init__(self, service: str, source: str) -> None:
        self.service = service
        self.source = source

    def __call__(self, instance: Any, name: str, *, array: bool = False) -> None:
        """Assert that `instance` is valid against the component schema `name` (or a list of them)."""
        problems = component_problems(self.service, name, instance, array=array)
        assert not problems, f"not a valid {self.source} {name}: " + "; ".join(problems)


@pytest.fixture(scope="session")
def github_schema() -> SchemaCheck:
    return SchemaCheck("github", "GitHub")


@pytest.fixture(scope="session")
def e2b_schema() -> SchemaCheck:
    return SchemaCheck("e2b", "E2B")


@pytest.fixture(scope="session")
def envd_schema() -> SchemaCheck:
    return SchemaCheck("envd", "envd")


@pytest.fixture(scope="session")
def openai_schema() -> SchemaCheck:
    return SchemaCheck("openai", "OpenAI")
