"""Fixtures of the contract tests: the fakes on a thread server, their respx routers, the official specs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mocks.common.server import ServerHandle, serve_in_thread
from mocks.e2b import FakeE2B
from mocks.e2b.app import build_app as build_e2b_app
from mocks.github import FakeGitHub
from mocks.github.app import build_app as build_github_app

SPECS = Path(__file__).resolve().parent / "specs"
E2B_KEY = "e2b_" + "ab12" * 10
GITHUB_TOKEN = "ghp_contract_token"


# -- the fakes: one object per worker session, served in a thread; state reset after every test --------
@pytest.fixture(scope="session")
def e2b_server() -> Iterator[tuple[FakeE2B, ServerHandle]]:
    fake = FakeE2B([E2B_KEY])
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


# -- the official API descriptions as JSON Schema ------------------------------------------------------
def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schemas are JSON Schema but for `nullable`: turn it into "or null"."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: openapi_to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _schemas(service: str) -> dict[str, Any]:
    """The subset of the official description kept in specs/ (regenerate with specs/regenerate.py)."""
    document = json.loads((SPECS / f"{service}.schemas.json").read_text())
    return openapi_to_json_schema(document["components"]["schemas"])


class SchemaCheck:
    def __init__(self, schemas: dict[str, Any], source: str) -> None:
        self.schemas = schemas
        self.source = source

    def __call__(self, instance: Any, name: str, *, array: bool = False) -> None:
        """Assert that `instance` is valid against the component schema `name` (or a list of them)."""
        ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
        schema = {"type": "array", "items": ref} if array else ref
        validator = jsonschema.Draft4Validator({**schema, "components": {"schemas": self.schemas}})
        errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
        assert not errors, f"not a valid {self.source} {name}: " + "; ".join(
            f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message[:200]}" for error in errors[:5]
        )


@pytest.fixture(scope="session")
def github_schema() -> SchemaCheck:
    return SchemaCheck(_schemas("github"), "GitHub")


@pytest.fixture(scope="session")
def e2b_schema() -> SchemaCheck:
    return SchemaCheck(_schemas("e2b"), "E2B")
