"""The fake Sentry ingest answers envelopes as Sentry's does: the official `sentry-sdk` client sends to
it unchanged (compressed as it likes), the key comes from the header, the query or the envelope's DSN,
and a bad key or a malformed envelope is refused in Relay's shape."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sentry_sdk

from mocks.common.server import ServerHandle, serve_in_thread
from mocks.sentry import DEFAULT_PUBLIC_KEY, FakeSentry
from mocks.sentry.app import build_app
from mocks.sentry.router import SENTRY_INGEST_URL, sentry_router

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

AUTH = f"Sentry sentry_version=7, sentry_client=contract-test/1.0, sentry_key={DEFAULT_PUBLIC_KEY}"


@pytest.fixture(scope="module")
def sentry_server() -> Iterator[tuple[FakeSentry, ServerHandle]]:
    fake = FakeSentry()
    server = serve_in_thread(build_app(fake))
    yield fake, server
    server.stop()


@pytest.fixture
def fake(sentry_server: tuple[FakeSentry, ServerHandle]) -> FakeSentry:
    sentry_server[0].reset()
    return sentry_server[0]


@pytest.fixture
def ingest(sentry_server: tuple[FakeSentry, ServerHandle]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sentry_server[1].url) as client:
        yield client


def envelope(event_id: str | None = None, *items: tuple[dict, bytes]) -> bytes:
    head = {"event_id": event_id} if event_id else {}
    lines = [json.dumps(head).encode()]
    for headers, payload in items:
        lines += [json.dumps(headers).encode(), payload]
    return b"\n".join(lines) + b"\n"


def event_item(message: str, *, with_length: bool = True) -> tuple[dict, bytes]:
    payload = json.dumps({"message": message, "level": "error"}).encode()
    return ({"type": "event", "length": len(payload)} if with_length else {"type": "event"}), payload


def test_the_official_sdk_sends_an_exception_that_the_fake_keeps(fake: FakeSentry, sentry_server) -> None:
    client = sentry_sdk.Client(dsn=fake.dsn(sentry_server[1].url), default_integrations=False)
    try:
        with sentry_sdk.new_scope() as scope:
            scope.set_client(client)
            scope.set_tag("suite", "contract")
            try:
                raise ValueError("the SDK's own envelope")
            except ValueError as error:
                event_id = scope.capture_exception(error)
    finally:
        client.flush(timeout=10)
        client.close(timeout=10)

    (event,) = fake.events()
    assert event["event_id"] == event_id
    assert event["exception"]["values"][0] == {**event["exception"]["values"][0], "type": "ValueError"}
    assert event["exception"]["values"][0]["value"] == "the SDK's own envelope"
    assert event["tags"]["suite"] == "contract"
    assert fake.requests("store_envelope")[0].status == 200


def test_an_envelope_is_answered_with_its_event_id(fake: FakeSentry, ingest: httpx.Client) -> None:
    event_id = uuid.uuid4().hex
    body = envelope(event_id, event_item("one"), ({"type": "attachment", "length": 3}, b"a\nb"))

    response = ingest.post("/api/1/envelope/", content=body, headers={"X-Sentry-Auth": AUTH})

    assert (response.status_code, response.json()) == (200, {"id": event_id})
    (received,) = fake.received()
    assert [item.type for item in received.envelope.items] == ["event", "attachment"]
    assert received.envelope.items[1].payload == b"a\nb"  # a length-delimited payload may hold newlines
    assert received.raw == body


def test_an_envelope_without_an_event_id_is_answered_with_an_empty_object(ingest: httpx.Client) -> None:
    body = envelope(None, ({"type": "session"}, b'{"sid": "x", "status": "ok"}'))

    response = ingest.post(f"/api/1/envelope/?sentry_key={DEFAULT_PUBLIC_KEY}&sentry_version=7", content=body)

    assert (response.status_code, response.json()) == (200, {})


def test_items_without_a_length_end_at_the_newline_and_the_body_may_be_gzipped(
    fake: FakeSentry, ingest: httpx.Client
) -> None:
    body = envelope(uuid.uuid4().hex, event_item("first", with_length=False), event_item("second"))

    response = ingest.post(
        "/api/1/envelope/", content=gzip.compress(body), headers={"X-Sentry-Auth": AUTH, "Content-Encoding": "gzip"}
    )

    assert response.status_code == 200
    assert [event["message"] for event in fake.events()] == ["first", "second"]


def test_a_tunnelled_envelope_authenticates_with_the_dsn_in_its_header(fake: FakeSentry, ingest, sentry_server):
    event_id = uuid.uuid4().hex
    head = json.dumps({"event_id": event_id, "dsn": fake.dsn(sentry_server[1].url)}).encode()
    headers, payload = event_item("tunnelled")

    response = ingest.post("/api/1/envelope/", content=head + b"\n" + json.dumps(headers).encode() + b"\n" + payload)

    assert (response.status_code, response.json()) == (200, {"id": event_id})


@pytest.mark.parametrize(
    ("headers", "query", "status", "detail"),
    [
        ({}, "", 401, "missing authorization information"),
        ({"X-Sentry-Auth": "Bearer abc"}, "", 401, "bad x-sentry-auth header"),
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, "", 401, "bad x-sentry-auth header"),
        ({"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef"}, "", 401, "invalid api key"),
        ({}, "?sentry_key=0123456789abcdef0123456789abcdef", 401, "invalid api key"),
    ],
    ids=["no-auth", "wrong-scheme", "no-key", "unknown-key-in-header", "unknown-key-in-query"],
)
def test_a_request_without_a_valid_key_is_refused_and_nothing_is_kept(
    fake: FakeSentry, ingest: httpx.Client, headers: dict, query: str, status: int, detail: str
) -> None:
    response = ingest.post(
        f"/api/1/envelope/{query}", content=envelope(uuid.uuid4().hex, event_item("x")), headers=headers
    )

    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert fake.received() == []


def test_an_unknown_project_is_refused(fake: FakeSentry, ingest: httpx.Client) -> None:
    response = ingest.post(
        "/api/42/envelope/", content=envelope(None, event_item("x")), headers={"X-Sentry-Auth": AUTH}
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "event submission rejected with_reason: ProjectId"}


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"", "empty envelope"),
        (b"not json\n", "the envelope header is not valid JSON"),
        (b'{"event_id": "nope"}\n', "invalid event_id"),
        (b"{}\n{}\n{}\n", "an item header has no type"),
        (b'{}\n{"type": "event", "length": 50}\n{}\n', "an item is shorter than its length"),
        (b'{}\n{"type": "event", "length": 2}\n{}}\n', "an item's payload is longer than its length"),
        (b'{}\n{"type": "event"}\n[1, 2]\n', "the payload of an event item is not a JSON object"),
    ],
    ids=["empty", "header-not-json", "bad-event-id", "item-without-type", "too-short", "too-long", "event-not-object"],
)
def test_a_malformed_envelope_is_a_400_naming_its_fault(
    fake: FakeSentry, ingest: httpx.Client, body: bytes, cause: str
) -> None:
    response = ingest.post("/api/1/envelope/", content=body, headers={"X-Sentry-Auth": AUTH})

    assert response.status_code == 400
    assert response.json()["detail"] == "invalid event envelope"
    assert response.json()["causes"][0].startswith(cause)
    assert fake.received() == []


def test_the_admin_api_shows_what_was_received(fake: FakeSentry, ingest: httpx.Client) -> None:
    ingest.post(
        "/api/1/envelope/", content=envelope(uuid.uuid4().hex, event_item("seen")), headers={"X-Sentry-Auth": AUTH}
    )

    (dumped,) = ingest.get("/_fake/envelopes").json()
    assert dumped["items"][0]["payload"]["message"] == "seen"
    assert '"seen"' in dumped["raw"]
    assert ingest.get("/_fake/events").json()[0]["message"] == "seen"
    assert ingest.post("/_fake/reset").status_code == 204
    assert ingest.get("/_fake/events").json() == []


def test_faults_apply_to_the_envelope_operation(fake: FakeSentry, ingest: httpx.Client) -> None:
    fake.add_fault("store_envelope", 429, times=1)

    refused = ingest.post("/api/1/envelope/", content=envelope(None, event_item("x")), headers={"X-Sentry-Auth": AUTH})
    accepted = ingest.post("/api/1/envelope/", content=envelope(None, event_item("x")), headers={"X-Sentry-Auth": AUTH})

    assert (refused.status_code, refused.headers["retry-after"]) == (429, "60")
    assert accepted.status_code == 200


def test_the_respx_router_answers_an_httpx_client_in_process() -> None:
    fake = FakeSentry()
    with sentry_router(fake) as router, httpx.Client(base_url=SENTRY_INGEST_URL) as client:
        body = envelope(None, event_item("in process"))
        response = client.post("/api/1/envelope/", content=body, headers={"X-Sentry-Auth": AUTH})
        missing = client.get("/api/1/store/")

        assert response.status_code == 200 and router["store_envelope"].call_count == 1
        assert missing.status_code == 404 and router["not_found"].call_count == 1
    assert fake.events()[0]["message"] == "in process"
