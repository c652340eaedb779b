"""`python -m mocks.e2b` and `python -m mocks.github`: the processes the stack launcher and compose start."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend_tests.contracts.openapi_contract import client_side_problems
from fixtures import http

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

ROOT = Path(__file__).resolve().parents[2]


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"no line on stdout within {timeout}s (exit code {process.poll()})"
    return process.stdout.readline()


@pytest.fixture
def start_fake() -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def start(module: str, env: dict[str, str]) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        line = read_line(process, timeout=20)
        match = re.fullmatch(r"fake (E2B|GitHub) listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, f"unexpected first line: {line!r}"
        return match.group(2)

    yield start
    for process in started:
        process.terminate()
        assert process.wait(timeout=10) == 0, "SIGTERM must end the fake normally (it then deletes its temp dirs)"
        assert process.stdout is not None
        process.stdout.close()


def test_python_m_mocks_e2b_serves_health_and_accepts_the_configured_keys_and_quota(start_fake) -> None:
    url = start_fake(
        "mocks.e2b", {"FAKE_E2B_API_KEYS": "e2b_" + "1" * 40 + ",e2b_" + "2" * 40, "FAKE_E2B_MAX_CONCURRENT": "1"}
    )
    good, unknown = {"X-API-Key": "e2b_" + "2" * 40}, {"X-API-Key": "e2b_" + "3" * 40}

    health = http.get(f"{url}/health")
    created = http.post(f"{url}/v2/sandboxes", json={"templateID": "base"}, headers=good)
    refused = http.post(f"{url}/v2/sandboxes", json={"templateID": "base"}, headers=unknown)
    over_quota = http.post(f"{url}/v2/sandboxes", json={"templateID": "base"}, headers=good)

    assert (health.status_code, created.status_code, refused.status_code, over_quota.status_code) == (
        200,
        201,
        401,
        429,
    )


def test_python_m_mocks_github_creates_repositories_with_its_own_clone_url(start_fake) -> None:
    url = start_fake("mocks.github", {"FAKE_GITHUB_TOKENS": "ghp_one,ghp_two"})

    created = http.post(f"{url}/_fake/repos", json={"owner": "acme", "name": "widgets", "default_branch": "trunk"})
    repository = http.get(f"{url}/repos/acme/widgets", headers={"Authorization": "token ghp_two"})
    health = [http.get(f"{url}{path}").status_code for path in ("/health", "/_fake/health")]

    assert created.status_code == 201
    assert created.json() == {
        "full_name": "acme/widgets",
        "clone_url": f"{url}/acme/widgets.git",
        "default_branch": "trunk",
        "html_url": f"{url}/acme/widgets",
    }
    assert (repository.json()["default_branch"], repository.json()["clone_url"]) == ("trunk", f"{url}/acme/widgets.git")
    assert client_side_problems("github", repository) == []
    assert health == [200, 200]


def test_python_m_mocks_github_puts_fake_github_public_url_in_clone_urls(start_fake, github_token: str) -> None:
    """Containers reach the fake by another name than the one it listens on (compose: http://fake-github:8002)."""
    url = start_fake(
        "mocks.github", {"FAKE_GITHUB_TOKENS": github_token, "FAKE_GITHUB_PUBLIC_URL": "http://fake-github:8002/"}
    )

    created = http.post(f"{url}/_fake/repos", json={"owner": "acme", "name": "widgets"})
    repository = http.get(f"{url}/repos/acme/widgets", headers={"Authorization": f"token {github_token}"})

    assert created.json()["clone_url"] == "http://fake-github:8002/acme/widgets.git"
    assert repository.json()["clone_url"] == "http://fake-github:8002/acme/widgets.git"
