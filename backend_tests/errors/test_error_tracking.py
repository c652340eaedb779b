"""Error tracking: an exception nobody expected, in a request or in a worker's job, reaches Sentry (the
fake ingest) with the request's or the task's context, and nothing secret is in what was sent: not in
the message, the frames' local variables, the request's headers, nor anywhere else in the raw bytes."""

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from pydantic import SecretStr

from app import error_tracking
from fixtures.credentials import CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY, CANARY_SQUAD_ADMIN_TOKEN
from fixtures.squads import make_squad
from mocks.common.server import serve_in_thread
from mocks.sentry import FakeSentry
from mocks.sentry.app import build_app

pytestmark = [pytest.mark.errors, pytest.mark.priority_p1]

# A secret the platform's settings do not know: only its variable's name says what it is.
WEBHOOK_SECRET = "whsec-7f3a9c2e51d04b8a9e6f0c1d2b3a4958"
SETTINGS_SECRETS = [CANARY_E2B_API_KEY, CANARY_GITHUB_TOKEN, CANARY_LLM_API_KEY, CANARY_SQUAD_ADMIN_TOKEN]


@pytest.fixture
def sentry(runtime) -> Iterator[FakeSentry]:
    """Error tracking on, for this test only, sending to a fake ingest on loopback."""
    fake = FakeSentry()
    server = serve_in_thread(build_app(fake))
    settings = runtime.settings.model_copy(update={"sentry_dsn": SecretStr(fake.dsn(server.url))})
    assert error_tracking.start(settings)
    try:
        yield fake
    finally:
        error_tracking.stop()
        server.stop()


def the_crash(fake: FakeSentry, exception_type: str) -> dict[str, Any]:
    sentry_sdk.flush(timeout=10)
    crashes = [
        event
        for event in fake.events()
        if any(value.get("type") == exception_type for value in event.get("exception", {}).get("values", []))
    ]
    assert crashes, f"no {exception_type} reached Sentry; it got {fake.events()}"
    return crashes[0]


def assert_no_secret_in(fake: FakeSentry, secrets: list[str]) -> None:
    raw = b"\n".join(fake.raw_envelopes())
    assert raw, "nothing reached Sentry"
    leaked = [secret for secret in secrets if secret.encode() in raw]
    assert not leaked, f"these secrets reached Sentry: {leaked}"


def frame_variables(event: dict[str, Any]) -> dict[str, Any]:
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    return frames[-1].get("vars", {})


async def test_an_unexpected_exception_in_a_request_reaches_sentry_with_the_request_and_no_secret(
    sentry, lenient_client, runtime, fake_e2b, fake_github, monkeypatch
):
    api = await make_squad(lenient_client, fake_github)
    task = await api.new_task()

    async def broken_create(**metadata):
        webhook_secret = WEBHOOK_SECRET
        headers = {"Authorization": f"Bearer {api.token}"}
        if webhook_secret and headers:
            raise RuntimeError(f"bug holding {CANARY_E2B_API_KEY} {CANARY_GITHUB_TOKEN} and {api.token}")

    monkeypatch.setattr(runtime.sandboxes, "create", broken_create)
    response = await api.call("POST", "/api/v1/sandboxes", json={"task_id": task["id"]})
    assert response.status_code == 500

    event = the_crash(sentry, "RuntimeError")
    assert event["tags"]["http.method"] == "POST"
    assert event["tags"]["http.route"] == "/api/v1/sandboxes"
    assert event["request"]["url"].endswith("/api/v1/sandboxes")
    assert "bug holding" in event["exception"]["values"][-1]["value"]
    assert frame_variables(event)["webhook_secret"] == error_tracking.FILTERED
    assert frame_variables(event)["headers"] == {"Authorization": error_tracking.FILTERED}
    assert_no_secret_in(sentry, [*SETTINGS_SECRETS, api.token, WEBHOOK_SECRET])


async def test_an_unexpected_exception_in_a_worker_task_reaches_sentry_with_the_task_and_no_secret(
    sentry, pipeline_run, runtime, monkeypatch
):
    token = pipeline_run.squad.token

    async def broken_create(**metadata):
        github_token = CANARY_GITHUB_TOKEN
        raise RuntimeError(f"bug in the sandbox step holding {CANARY_E2B_API_KEY} and {token} ({github_token})")

    monkeypatch.setattr(runtime.sandboxes, "create", broken_create)
    task = await pipeline_run.assign_and_run()
    assert task.status == "failed"

    event = the_crash(sentry, "RuntimeError")
    assert event["tags"]["task_id"] == pipeline_run.task["id"]
    assert event["tags"]["squad_id"] == pipeline_run.squad.id
    assert event["tags"]["step"] == "sandbox"
    assert {"job_id", "run_id", "attempt", "worker"} <= set(event["tags"])
    assert event["contexts"]["task"]["task_id"] == pipeline_run.task["id"]
    assert "bug in the sandbox step" in event["exception"]["values"][-1]["value"]
    assert_no_secret_in(sentry, [*SETTINGS_SECRETS, token])


def test_error_tracking_is_off_without_a_dsn(inprocess_settings) -> None:
    assert inprocess_settings.sentry_dsn.get_secret_value() == ""
    assert error_tracking.start(inprocess_settings) is False
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer sq_AbCdEfGhIjKlMnOpQrStUv",
        "Authorization: token ghp_abcdefghijklmnopqrstuvwxyz0123",
        "https://x-access-token:gho_abcdefghijklmnop@github.example/owner/repo.git",
        "e2b key e2b_0123456789abcdef0123 in a message",
        "provider key sk-proj-0123456789abcdefghij",
    ],
)
def test_credentials_are_scrubbed_wherever_they_appear_in_text(text: str) -> None:
    scrubbed = error_tracking.scrub({"message": text}, [])["message"]

    assert "***" in scrubbed
    for fragment in ("sq_AbCd", "ghp_abcd", "gho_abcd", "e2b_0123", "sk-proj-0123"):
        assert fragment not in scrubbed


def test_keys_that_name_a_secret_are_filtered_at_any_depth() -> None:
    event = {
        "request": {"headers": {"Authorization": "x", "X-Hub-Signature-256": "sha256=1", "Accept": "json"}},
        "extra": {"deep": [{"webhook_secret": "x", "api_key": "y", "password": "z", "note": "kept"}]},
    }

    scrubbed = error_tracking.scrub(event, [])

    assert scrubbed["request"]["headers"] == {
        "Authorization": "[Filtered]",
        "X-Hub-Signature-256": "[Filtered]",
        "Accept": "json",
    }
    assert scrubbed["extra"]["deep"][0] == {
        "webhook_secret": "[Filtered]",
        "api_key": "[Filtered]",
        "password": "[Filtered]",
        "note": "kept",
    }
