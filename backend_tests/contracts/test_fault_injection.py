"""Faults injected through the admin API (or the Python API) reach HTTP clients as the real failure would."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from backend_tests.contracts.github_errors import assert_github_error
from fixtures import http
from fixtures.waiting import eventually
from mocks.e2b import FakeE2B
from mocks.e2b.router import E2B_API_URL, e2b_router
from mocks.github import FakeGitHub
from mocks.llm import FakeLLM

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


@pytest.fixture
def e2b_client(e2b_url: str, e2b_api_key: str, fake_e2b: FakeE2B) -> Iterator[httpx.Client]:
    with http.Client(base_url=e2b_url, headers={"X-API-Key": e2b_api_key}, timeout=10) as client:
        yield client


def test_a_status_fault_from_the_admin_api_reaches_the_client_once(e2b_client: httpx.Client) -> None:
    added = e2b_client.post("/_fake/faults", json={"operation": "create_sandbox", "status": 503, "times": 1})

    failed = e2b_client.post("/v2/sandboxes", json={"templateID": "base"})
    recovered = e2b_client.post("/v2/sandboxes", json={"templateID": "base"})

    assert added.status_code == 201
    assert failed.status_code == 503
    assert failed.json() == {"code": 503, "message": "Service unavailable"}  # E2B's own error shape
    assert recovered.status_code == 201


def test_a_fault_with_its_own_body_and_headers_is_answered_verbatim(e2b_client: httpx.Client) -> None:
    e2b_client.post(
        "/_fake/faults",
        json={
            "operation": "create_sandbox",
            "status": 429,
            "body": {"code": 429, "message": "slow down"},
            "headers": {"Retry-After": "3"},
        },
    )

    response = e2b_client.post("/v2/sandboxes", json={"templateID": "base"})

    assert (response.status_code, response.json(), response.headers["retry-after"]) == (
        429,
        {"code": 429, "message": "slow down"},
        "3",
    )


def test_a_reset_fault_drops_the_connection_on_the_real_server(e2b_client: httpx.Client, fake_e2b: FakeE2B) -> None:
    e2b_client.post("/_fake/faults", json={"operation": "create_sandbox", "kind": "reset", "times": 1})

    with pytest.raises(httpx.TransportError):
        e2b_client.post("/v2/sandboxes", json={"templateID": "base"})

    assert e2b_client.post("/v2/sandboxes", json={"templateID": "base"}).status_code == 201
    assert [entry.fault for entry in fake_e2b.requests("create_sandbox")] == ["reset", None]
    assert fake_e2b.requests("create_sandbox")[0].status is None


async def test_a_reset_fault_is_a_transport_error_in_process_too(fake_e2b: FakeE2B, e2b_api_key: str) -> None:
    fake_e2b.add_fault("kill_sandbox", kind="reset", times=1)
    sandbox = fake_e2b.create_sandbox()

    with e2b_router(fake_e2b):
        async with http.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
            with pytest.raises(httpx.TransportError):
                await client.delete(f"/sandboxes/{sandbox.sandbox_id}")
            retried = await client.delete(f"/sandboxes/{sandbox.sandbox_id}")

    assert retried.status_code == 204


def test_a_malformed_fault_sends_broken_json(e2b_client: httpx.Client) -> None:
    e2b_client.post("/_fake/faults", json={"operation": "list_sandboxes", "kind": "malformed"})

    response = e2b_client.get("/v2/sandboxes")

    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.priority_p1
def test_a_latency_fault_delays_the_answer(e2b_client: httpx.Client) -> None:
    e2b_client.post("/_fake/faults", json={"operation": "list_sandboxes", "latency_ms": 150, "times": 1})

    began = time.monotonic()
    response = e2b_client.get("/v2/sandboxes")

    assert response.status_code == 200
    assert time.monotonic() - began >= 0.15


def test_faults_can_be_listed_and_cleared(e2b_client: httpx.Client) -> None:
    e2b_client.post("/_fake/faults", json={"operation": "*", "status": 500})

    listed = e2b_client.get("/_fake/faults").json()
    cleared = e2b_client.delete("/_fake/faults")

    assert [rule["operation"] for rule in listed] == ["*"]
    assert cleared.status_code == 204
    assert e2b_client.get("/v2/sandboxes").status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"status": 500},
        {"operation": "x", "kind": "explode"},
        {"operation": "x", "status": 99},
        {"operation": "x", "status": 500, "times": 0},
        {"operation": "x", "colour": "red", "status": 500},
    ],
    ids=["no-operation", "unknown-kind", "bad-status", "zero-times", "unknown-field"],
)
def test_invalid_fault_rules_are_refused_with_400(e2b_client: httpx.Client, rule: dict) -> None:
    response = e2b_client.post("/_fake/faults", json=rule)

    assert response.status_code == 400
    assert response.json()["error"]


def test_a_github_fault_answers_with_githubs_error_body(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    fake_github.add_fault("create_pull_request", 502, times=1)

    response = http.post(
        f"{github_url}/repos/acme/widgets/pulls",
        json={"title": "T", "head": "main", "base": "main"},
        headers={"Authorization": f"Bearer {github_token}"},
    )

    assert_github_error(response, 502, "Server Error")


@pytest.mark.priority_p1
def test_journal_and_reset_through_the_admin_api(e2b_client: httpx.Client, fake_e2b: FakeE2B) -> None:
    e2b_client.post("/v2/sandboxes", json={"templateID": "base"})
    e2b_client.get("/v2/sandboxes")

    journal = e2b_client.get("/_fake/journal").json()
    only_creates = e2b_client.get("/_fake/journal", params={"operation": "create_sandbox"}).json()
    state_before = e2b_client.get("/_fake/state").json()
    reset = e2b_client.post("/_fake/reset")

    assert [(entry["method"], entry["path"], entry["status"], entry["operation"]) for entry in journal] == [
        ("POST", "/v2/sandboxes", 201, "create_sandbox"),
        ("GET", "/v2/sandboxes", 200, "list_sandboxes"),
    ]
    assert journal[0]["body"] == {"templateID": "base"}
    assert len(only_creates) == 1
    assert len(state_before["sandboxes"]) == 1
    assert reset.status_code == 204
    assert fake_e2b.running_sandboxes() == [] and fake_e2b.journal == []
    assert e2b_client.post("/v2/sandboxes", json={"templateID": "base"}).status_code == 201, "keys survive reset"


@pytest.mark.priority_p1
async def test_respx_named_routes_record_the_calls(fake_e2b: FakeE2B, e2b_api_key: str) -> None:
    with e2b_router(fake_e2b) as router:
        async with http.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
            await client.post("/v2/sandboxes", json={"templateID": "base"})

        # respx forgets the calls when the router exits, so assert inside.
        assert router["create_sandbox"].call_count == 1
        assert not router["kill_sandbox"].called
        assert isinstance(router, respx.MockRouter)


# -- narrowing a rule to one test's requests (`match`) ------------------------------------------------
def create(client: httpx.Client, **metadata: str) -> httpx.Response:
    return client.post("/v2/sandboxes", json={"templateID": "base", "timeout": 60, "metadata": metadata})


def test_a_rule_matching_sandbox_metadata_hits_only_that_tests_sandboxes(e2b_client: httpx.Client) -> None:
    added = e2b_client.post(
        "/_fake/faults", json={"operation": "*", "status": 503, "match": {"metadata": {"test": "mine"}}}
    )
    mine = create(e2b_client, test="mine", extra="x")
    theirs = create(e2b_client, test="theirs")
    theirs_id = theirs.json()["sandboxID"]
    killed_theirs = e2b_client.delete(f"/sandboxes/{theirs_id}")

    assert added.status_code == 201 and added.json()["match"] == {"metadata": {"test": "mine"}}
    assert mine.status_code == 503
    assert (theirs.status_code, killed_theirs.status_code) == (201, 204)


async def test_concurrent_clients_of_one_fake_only_take_their_own_faults(
    fake_e2b: FakeE2B, e2b_url: str, e2b_api_key: str
) -> None:
    fake_e2b.add_fault("create_sandbox", 503, match={"metadata": {"worker": "a"}})

    async with http.AsyncClient(base_url=e2b_url, headers={"X-API-Key": e2b_api_key}, timeout=10) as client:
        answers = await asyncio.gather(
            *[
                client.post("/v2/sandboxes", json={"templateID": "base", "metadata": {"worker": worker}})
                for worker in "ab" * 5
            ]
        )

    statuses = {
        worker: [a.status_code for a, w in zip(answers, "ab" * 5, strict=True) if w == worker] for worker in "ab"
    }
    assert statuses == {"a": [503] * 5, "b": [201] * 5}


def test_a_rule_matching_a_sandbox_id_hits_its_envd_calls(e2b_client: httpx.Client, fake_e2b: FakeE2B) -> None:
    sandbox = fake_e2b.create_sandbox()
    other = fake_e2b.create_sandbox()
    fake_e2b.add_fault("envd_health", 502, match={"sandbox": sandbox.sandbox_id})

    def health(target) -> int:
        headers = {"E2b-Sandbox-Id": target.sandbox_id, "X-Access-Token": target.envd_access_token}
        return e2b_client.get("/health", headers=headers).status_code

    assert (health(sandbox), health(other)) == (502, 204)


def test_rules_can_match_method_path_query_headers_and_body(e2b_client: httpx.Client, fake_e2b: FakeE2B) -> None:
    fake_e2b.add_fault("*", 500, match={"method": "GET", "path": "/v2/sandboxes", "query": "state=paused"})
    fake_e2b.add_fault("create_sandbox", 502, match={"headers": {"X-Test-Name": "header-test"}})
    fake_e2b.add_fault("create_sandbox", 504, match={"body": {"templateID": "special"}})

    paused = e2b_client.get("/v2/sandboxes", params={"state": "paused"})
    running = e2b_client.get("/v2/sandboxes", params={"state": "running"})
    by_header = e2b_client.post("/v2/sandboxes", json={"templateID": "base"}, headers={"X-Test-Name": "header-test"})
    by_body = e2b_client.post("/v2/sandboxes", json={"templateID": "special"})
    plain = e2b_client.post("/v2/sandboxes", json={"templateID": "base"})

    assert (paused.status_code, running.status_code) == (500, 200)
    assert (by_header.status_code, by_body.status_code, plain.status_code) == (502, 504, 201)


def test_a_github_rule_matching_a_repository_spares_the_others(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    for name in ("widgets", "gadgets"):
        fake_github.create_repo("acme", name)
    with http.Client(base_url=github_url, headers={"Authorization": f"Bearer {github_token}"}) as client:
        client.post("/_fake/faults", json={"operation": "*", "status": 500, "match": {"repository": "ACME/widgets"}})

        widgets = client.get("/repos/acme/widgets")
        gadgets = client.get("/repos/acme/gadgets")

    assert (widgets.status_code, gadgets.status_code) == (500, 200)
    assert widgets.json() == {
        "message": "Server Error",
        "documentation_url": "https://docs.github.com/rest",
        "status": "500",
    }


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": "*", "status": 500, "match": {"repository": "acme/widgets"}},
        {"operation": "*", "status": 500, "match": {"metadata": "not-an-object"}},
        {"operation": "*", "status": 500, "match": ["path"]},
        {"operation": "*", "status": 500, "after": -1},
        {"operation": "*", "kind": "latency", "status": 500, "latency_ms": 10},
    ],
    ids=[
        "key-of-another-fake",
        "metadata-not-an-object",
        "match-not-an-object",
        "negative-after",
        "latency-with-status",
    ],
)
def test_invalid_matches_are_refused_with_400(e2b_client: httpx.Client, rule: dict) -> None:
    response = e2b_client.post("/_fake/faults", json=rule)

    assert response.status_code == 400, response.text
    assert response.json()["error"]


# -- counting: the next N times, after K, from now on ---------------------------------------------------
def test_after_lets_the_first_calls_through_and_times_bounds_the_rest(e2b_client: httpx.Client) -> None:
    e2b_client.post("/_fake/faults", json={"operation": "list_sandboxes", "status": 500, "after": 1, "times": 2})

    statuses = [e2b_client.get("/v2/sandboxes").status_code for _ in range(4)]
    rules = e2b_client.get("/_fake/faults").json()

    assert statuses == [200, 500, 500, 200]
    assert rules == [], "a rule used up is removed"


def test_a_rule_without_times_lasts_until_removed(e2b_client: httpx.Client) -> None:
    rule = e2b_client.post("/_fake/faults", json={"operation": "list_sandboxes", "status": 502}).json()

    during = [e2b_client.get("/v2/sandboxes").status_code for _ in range(3)]
    listed = e2b_client.get("/_fake/faults").json()
    removed = e2b_client.delete(f"/_fake/faults/{rule['id']}")
    removed_again = e2b_client.delete(f"/_fake/faults/{rule['id']}")
    after = e2b_client.get("/v2/sandboxes").status_code

    assert during == [502, 502, 502]
    assert [(item["id"], item["applied"]) for item in listed] == [(rule["id"], 3)]
    assert (removed.status_code, removed_again.status_code, after) == (204, 404, 200)


# -- each kind, as a real client sees it -----------------------------------------------------------------
def test_a_latency_fault_reaches_a_client_as_a_read_timeout(
    e2b_client: httpx.Client, e2b_url: str, fake_e2b: FakeE2B
) -> None:
    e2b_client.post(
        "/_fake/faults", json={"operation": "list_sandboxes", "kind": "latency", "latency_ms": 300, "times": 1}
    )

    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{e2b_url}/v2/sandboxes", headers=dict(e2b_client.headers), timeout=0.1)

    def answered() -> None:  # the fake finishes the request the client gave up on, before the next test
        assert [entry.fault for entry in fake_e2b.requests("list_sandboxes")] == ["latency"]

    eventually(answered, timeout=5, description="the delayed request to be answered")


def test_a_reset_fault_on_the_github_api_is_a_dropped_connection(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    fake_github.add_fault("get_repository", kind="reset", times=1)

    with http.Client(base_url=github_url, headers={"Authorization": f"Bearer {github_token}"}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/repos/acme/widgets")
        assert client.get("/repos/acme/widgets").status_code == 200


def test_a_malformed_github_answer_breaks_the_clients_json_parsing(
    fake_github: FakeGitHub, github_url: str, github_token: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    fake_github.add_fault("list_pull_requests", kind="malformed", times=1)

    response = http.get(f"{github_url}/repos/acme/widgets/pulls", headers={"Authorization": f"Bearer {github_token}"})

    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize(
    ("rule", "git_says"),
    [
        ({"operation": "git_info_refs", "status": 500}, "The requested URL returned error: 500"),
        ({"operation": "git_upload_pack", "kind": "reset"}, "fatal:"),
    ],
    ids=["status", "reset"],
)
def test_git_faults_fail_real_git_as_the_server_would(
    git, fake_github: FakeGitHub, github_url: str, github_token: str, tmp_path, rule: dict, git_says: str
) -> None:
    fake_github.create_repo("acme", "widgets")
    http.post(f"{github_url}/_fake/faults", json={**rule, "match": {"repository": "acme/widgets"}})
    url = github_url.replace("http://", f"http://x-access-token:{github_token}@") + "/acme/widgets.git"

    result = git.run("clone", url, str(tmp_path / "w"), check=False)

    assert result.returncode != 0
    assert git_says in result.stderr, result.stderr


# -- the fake LLM ---------------------------------------------------------------------------------------
LLM_REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Task f-1"}]}


@pytest.fixture
def llm_client(llm_url: str, llm_api_key: str, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with http.Client(base_url=llm_url, headers={"Authorization": f"Bearer {llm_api_key}"}, timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    ("status", "type_", "message"),
    [
        (500, "server_error", "The server had an error while processing your request."),
        (503, "server_error", "That model is currently overloaded with other requests."),
        (429, "requests", "Rate limit reached"),
    ],
)
def test_an_llm_status_fault_answers_with_openais_error_body(
    llm_client: httpx.Client, status: int, type_: str, message: str
) -> None:
    llm_client.post("/_fake/faults", json={"operation": "create_chat_completion", "status": status, "times": 1})

    failed = llm_client.post("/v1/chat/completions", json=LLM_REQUEST)
    recovered = llm_client.post("/v1/chat/completions", json=LLM_REQUEST)

    assert failed.status_code == status
    assert set(failed.json()) == {"error"}
    error = failed.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (type_, None, None)
    assert error["message"].startswith(message)
    assert failed.headers["x-request-id"].startswith("req_")
    assert recovered.status_code == 200


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, {"retry-after": "1"}),
        ({"retry-after-ms": "250"}, {"retry-after": "1", "retry-after-ms": "250"}),
        ({"retry-after": "7"}, {"retry-after": "7"}),
    ],
    ids=["default", "own-retry-after-ms", "own-retry-after"],
)
def test_a_429_fault_says_when_to_retry_as_its_rule_says(
    llm_client: httpx.Client, fake_llm: FakeLLM, headers: dict, expected: dict
) -> None:
    fake_llm.add_fault("create_chat_completion", 429, times=1, headers=headers)

    response = llm_client.post("/v1/chat/completions", json=LLM_REQUEST)

    retry_headers = {name: value for name, value in response.headers.items() if name.startswith("retry-after")}
    assert retry_headers == expected
    assert (response.headers["x-ratelimit-remaining-requests"], response.headers["x-ratelimit-limit-requests"]) == (
        "0",
        "10000",
    )


def test_a_reset_fault_drops_a_streamed_llm_request(llm_client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.add_fault("create_chat_completion", kind="reset", times=1, match={"body": {"stream": True}})

    with pytest.raises(httpx.RemoteProtocolError):
        llm_client.post("/v1/chat/completions", json={**LLM_REQUEST, "stream": True})
    plain = llm_client.post("/v1/chat/completions", json=LLM_REQUEST)

    assert plain.status_code == 200
    assert [entry.fault for entry in fake_llm.requests("create_chat_completion")] == ["reset", None]


def test_a_malformed_llm_answer_breaks_the_clients_json_parsing(llm_client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.add_fault("list_models", kind="malformed", times=1)

    response = llm_client.get("/v1/models")

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_an_llm_rule_matching_the_model_spares_the_others(llm_client: httpx.Client, fake_llm: FakeLLM) -> None:
    fake_llm.add_fault("create_chat_completion", 502, match={"body": {"model": "gpt-4o"}})

    on_that_model = llm_client.post("/v1/chat/completions", json={**LLM_REQUEST, "model": "gpt-4o"})
    on_another = llm_client.post("/v1/chat/completions", json=LLM_REQUEST)

    assert (on_that_model.status_code, on_another.status_code) == (502, 200)
    assert on_that_model.json()["error"]["type"] == "server_error"
