"""Faults injected through the admin API (or the Python API) reach HTTP clients as the real failure would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from mocks.e2b import FakeE2B
from mocks.e2b.router import E2B_API_URL, e2b_router
from mocks.github import FakeGitHub

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


@pytest.fixture
def e2b_client(e2b_url: str, e2b_api_key: str, fake_e2b: FakeE2B) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=e2b_url, headers={"X-API-Key": e2b_api_key}, timeout=10) as client:
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
        async with httpx.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
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
    e2b_client.post("/_fake/faults", json={"operation": "list_sandboxes", "latency_ms": 300, "times": 1})

    began = time.monotonic()
    response = e2b_client.get("/v2/sandboxes")

    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3


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

    response = httpx.post(
        f"{github_url}/repos/acme/widgets/pulls",
        json={"title": "T", "head": "main", "base": "main"},
        headers={"Authorization": f"Bearer {github_token}"},
    )

    assert response.status_code == 502
    assert response.json() == {
        "message": "Server Error",
        "documentation_url": "https://docs.github.com/rest",
        "status": "502",
    }


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
        async with httpx.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": e2b_api_key}) as client:
            await client.post("/v2/sandboxes", json={"templateID": "base"})

        # respx forgets the calls when the router exits, so assert inside.
        assert router["create_sandbox"].call_count == 1
        assert not router["kill_sandbox"].called
        assert isinstance(router, respx.MockRouter)
