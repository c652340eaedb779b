"""Fixtures of the contract tests: the fakes on a thread server, their respx routers, the official specs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema
import pytest
import respx

from fixtures import http
from fixtures.openapi_contract import (
    FORMATS,
    SPECS,
    ContractGuard,
    ServiceContract,
    component_problems,
    openapi_to_json_schema,
)
from mocks.common.server import ServerHandle, serve_in_thread
from mocks.common.service import FakeService
from mocks.e2b import FakeE2B
from mocks.e2b.app import build_app as build_e2b_app
from mocks.e2b.router import E2B_API_URL, e2b_router
from mocks.e2b.state import Sandbox
from mocks.github import FakeGitHub
from mocks.github.app import build_app as build_github_app
from mocks.github.router import GITHUB_API_URL, github_router
from mocks.llm import FakeLLM
from mocks.llm.app import build_app as build_llm_app
from mocks.llm.router import LLM_API_URL, llm_router

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
    """The fake GitHub, emptied after the test; every webhook delivery it made is then checked against the
    official description (a delivery that breaks it fails the test, at teardown)."""
    fake, _ = github_server
    yield fake
    problems = [
        f"delivery {delivery.id} ({delivery.event}): {problem}"
        for delivery in fake.deliveries()
        for problem in webhook_problems(delivery.request_headers, delivery.body)
    ]
    fake.reset()
    if problems:
        pytest.fail(
            "webhook deliveries that break the official description:\n  " + "\n  ".join(problems), pytrace=False
        )


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


# -- clients of the fakes in process, and a sandbox -------------------------------------------------------
@pytest.fixture
async def e2b_api(e2b_routes: respx.MockRouter, e2b_api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of E2B's REST API (api.e2b.app) with the key, answered by the fake in process."""
    async with http.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
        yield client


@pytest.fixture
async def github_api(github_routes: respx.MockRouter, github_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of GitHub's REST API (api.github.com) with the token, answered by the fake in process."""
    headers = {"Authorization": f"Bearer {github_token}", "Accept": "application/vnd.github+json"}
    async with http.AsyncClient(base_url=GITHUB_API_URL, headers=headers) as client:
        yield client


@pytest.fixture
async def llm_api(llm_routes: respx.MockRouter, llm_api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the Chat Completions API (api.openai.com/v1) with the key, answered by the fake in process."""
    async with http.AsyncClient(base_url=LLM_API_URL, headers={"Authorization": f"Bearer {llm_api_key}"}) as client:
        yield client


@pytest.fixture
def sandbox(fake_e2b: FakeE2B) -> Sandbox:
    """A running sandbox of the fake E2B."""
    return fake_e2b.create_sandbox()


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


# -- the official webhook payloads ----------------------------------------------------------------------
@cache
def webhook_spec() -> dict[str, Any]:
    """specs/github.webhooks.json (the description's `x-webhooks` for the events the fake sends), as JSON Schema."""
    document = json.loads((SPECS / "github.webhooks.json").read_text())
    document["components"]["schemas"] = openapi_to_json_schema(document["components"]["schemas"])
    return document


@cache
def webhook_validator(schema: str) -> jsonschema.Draft4Validator:
    """A validator of one payload schema (given as JSON), made once: each holds all the components."""
    return jsonschema.Draft4Validator(
        {**json.loads(schema), "components": webhook_spec()["components"]}, format_checker=FORMATS
    )


def webhook_key(event: str, payload: dict[str, Any]) -> str:
    """The `x-webhooks` key of a delivery: the event, and its action when it has one ("pull-request-opened")."""
    action = payload.get("action")
    return event.replace("_", "-") + (f"-{action}" if action else "")


def webhook_problems(headers: dict[str, str], body: bytes) -> list[str]:
    """What is wrong with a delivery (its headers, by any case, and the exact body) against the official
    description: its content type, and the payload against the schema of its event and action (a form's
    `payload` field against the JSON schema, the form itself against the form schema where there is one)."""
    headers = {name.lower(): value for name, value in headers.items()}
    event = headers.get("x-github-event", "")
    content_type = headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        payload = json.loads(form.get("payload", "null"))
    else:
        form, payload = None, json.loads(body)
    if not isinstance(payload, dict):
        return [f"{event}: the payload is not a JSON object: {body[:80]!r}"]
    key = webhook_key(event, payload)
    spec = webhook_spec()
    declared = spec["webhooks"].get(key)
    if declared is None:
        return [f"{key}: no such webhook in the description (or not among those specs/regenerate.py keeps)"]
    problems = []
    checks = [(payload, declared["content"]["application/json"])]
    if form is not None:
        if content_type in declared["content"]:
            checks.append((form, declared["content"][content_type]))
        elif content_type != "application/x-www-form-urlencoded":
            problems.append(f"{key}: content type {content_type!r} is not one the description allows")
    elif content_type not in declared["content"]:
        problems.append(f"{key}: content type {content_type!r} is not one the description allows")
    for instance, schema in checks:
        validator = webhook_validator(json.dumps(schema))
        for error in sorted(validator.iter_errors(instance), key=lambda error: list(error.path))[:5]:
            problems.append(f"{key}: {'/'.join(map(str, error.path)) or '(root)'}: {error.message[:200]}")
    return problems


class WebhookCheck:
    def __call__(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """Assert that a delivery follows the official description; returns its payload."""
        problems = webhook_problems(headers, body)
        assert not problems, "a webhook delivery that breaks the official description:\n  " + "\n  ".join(problems)
        content_type = {name.lower(): value for name, value in headers.items()}.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return json.loads(parse_qs(body.decode())["payload"][0])
        return json.loads(body)


@pytest.fixture(scope="session")
def github_webhook_schema() -> WebhookCheck:
    return WebhookCheck()
