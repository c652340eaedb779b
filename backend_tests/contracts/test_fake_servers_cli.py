"""`python -m mocks.e2b`, `python -m mocks.github` and `python -m mocks.llm`: the processes the stack
launcher and compose start."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures import http
from fixtures.openapi_contract import client_side_problems

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

ROOT = Path(__file__).resolve().parents[2]


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"no line on stdout within {timeout}s (exit code {process.poll()})"
    return process.stdout.readline()


PUBLIC_URL_TOKEN = "ghp_public_url_token"

# Each test's own server, by the module and environment it is started with.
FAKES = {
    "e2b": ("mocks.e2b", {"FAKE_E2B_API_KEYS": "e2b_" + "1" * 40 + ",e2b_" + "2" * 40, "FAKE_E2B_MAX_CONCURRENT": "1"}),
    "github": ("mocks.github", {"FAKE_GITHUB_TOKENS": "ghp_one,ghp_two"}),
    "llm": ("mocks.llm", {"FAKE_LLM_API_KEYS": "sk-llm-one,sk-llm-two", "FAKE_LLM_TIME_TO_FIRST_TOKEN_MS": "250"}),
    "sentry": ("mocks.sentry", {"FAKE_SENTRY_DSN_KEYS": "0123456789abcdef0123456789abcdef"}),
    "github-public-url": (
        "mocks.github",
        {"FAKE_GITHUB_TOKENS": PUBLIC_URL_TOKEN, "FAKE_GITHUB_PUBLIC_URL": "http://fake-github:8002/"},
    ),
}


@pytest.fixture(scope="module")
def fake_urls() -> Iterator[dict[str, str]]:
    """Every server of FAKES, started at once (each boots in a fraction of a second, in parallel) -> its URL."""
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, (module, env) in FAKES.items()
    }
    try:
        urls = {}
        for name, process in started.items():
            line = read_line(process, timeout=20)
            match = re.fullmatch(r"fake (E2B|GitHub|LLM|Sentry) listening on (http://127\.0\.0\.1:\d+)\n", line)
            assert match, f"unexpected first line from {name}: {line!r}"
            urls[name] = match.group(2)
        yield urls
    finally:
        for process in started.values():
            process.terminate()
        for name, process in started.items():
            assert process.wait(timeout=10) == 0, (
                f"{name}: SIGTERM must end the fake normally (it deletes its temp dirs)"
            )
            assert process.stdout is not None
            process.stdout.close()


def test_python_m_mocks_e2b_serves_health_and_accepts_the_configured_keys_and_quota(fake_urls) -> None:
    url = fake_urls["e2b"]
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


def test_python_m_mocks_github_creates_repositories_with_its_own_clone_url(fake_urls) -> None:
    url = fake_urls["github"]

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


def test_python_m_mocks_github_puts_fake_github_public_url_in_clone_urls(fake_urls) -> None:
    """Containers reach the fake by another name than the one it listens on (compose: http://fake-github:8002)."""
    url, github_token = fake_urls["github-public-url"], PUBLIC_URL_TOKEN

    created = http.post(f"{url}/_fake/repos", json={"owner": "acme", "name": "widgets"})
    repository = http.get(f"{url}/repos/acme/widgets", headers={"Authorization": f"token {github_token}"})

    assert created.json()["clone_url"] == "http://fake-github:8002/acme/widgets.git"
    assert repository.json()["clone_url"] == "http://fake-github:8002/acme/widgets.git"


def test_python_m_mocks_llm_answers_the_configured_keys_at_the_configured_pace(fake_urls) -> None:
    url = fake_urls["llm"]
    tools = [{"type": "function", "function": {"name": "write_file", "parameters": {"type": "object"}}}]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Task 1"}], "tools": tools}

    began = time.monotonic()
    answer = http.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-llm-two"})
    took = time.monotonic() - began
    streamed = http.post(
        f"{url}/v1/chat/completions", json={**body, "stream": True}, headers={"Authorization": "Bearer sk-llm-one"}
    )
    refused = http.get(f"{url}/v1/models", headers={"Authorization": "Bearer sk-llm-three"})
    health = [http.get(f"{url}{path}").status_code for path in ("/health", "/_fake/health")]

    assert answer.status_code == 200 and took >= 0.25, f"answered in {took:.3f}s"
    assert answer.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "write_file"
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "invalid_api_key")
    assert [client_side_problems("openai", response) for response in (answer, streamed, refused)] == [[], [], []]
    assert health == [200, 200]


def test_python_m_mocks_sentry_takes_envelopes_with_the_configured_key(fake_urls) -> None:
    url = fake_urls["sentry"]
    body = b'{"event_id": "0123456789abcdef0123456789abcdef"}\n{"type": "event"}\n{"message": "hi"}\n'

    accepted = http.post(f"{url}/api/1/envelope/?sentry_key=0123456789abcdef0123456789abcdef", content=body)
    refused = http.post(f"{url}/api/1/envelope/?sentry_key=fedcba9876543210fedcba9876543210", content=body)

    assert (accepted.status_code, accepted.json()) == (200, {"id": "0123456789abcdef0123456789abcdef"})
    assert refused.status_code == 401
    assert http.get(f"{url}/_fake/events").json() == [{"message": "hi"}]
