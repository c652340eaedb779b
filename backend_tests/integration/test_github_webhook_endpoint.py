"""POST /api/v1/github/webhooks, the door of GitHub's deliveries: nothing changes unless the delivery is signed
with the platform's secret (X-Hub-Signature-256 over the exact body), and a delivery changes things once
(its X-GitHub-Delivery GUID); what is not the platform's (a repository or pull request no task has) is
answered 2xx and changes nothing; the body has a limit of its own; no secret configured: 503.

The deliveries are the fake GitHub's own (held, then sent by the test), or ones made here from them."""

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app.models import Event, Task, WebhookDelivery
from fixtures.credentials import CANARY_GITHUB_WEBHOOK_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

URL = "/api/v1/github/webhooks"


def signed(body: bytes, secret: str = CANARY_GITHUB_WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(event: str, body: bytes, *, guid: str | None = None, signature: str | None = "sign") -> dict[str, str]:
    found = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
    }
    if signature is not None:
        found["X-Hub-Signature-256"] = signed(body) if signature == "sign" else signature
    return found


async def chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    """The body sent in pieces, without a Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def counts(platform) -> tuple[int, int, int]:
    """Events, stored deliveries and tasks not in review: what a delivery that changes nothing leaves as it was."""
    async with platform.runtime.sessionmaker() as session:
        events = await session.scalar(select(func.count()).select_from(Event))
        deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        moved = await session.scalar(select(func.count()).select_from(Task).where(Task.status != "review"))
    return events, deliveries, moved


def closed_payload(in_review, *, updated_at: datetime | None = None) -> dict:
    """A `pull_request` closed delivery of the scene's pull request, as the fake GitHub makes them."""
    owner, name, number = in_review.where
    in_review.close()
    delivery = in_review.github.deliveries()[-1]
    payload = json.loads(delivery.body)
    assert (delivery.event, payload["action"]) == ("pull_request", "closed")
    if updated_at is not None:
        payload["pull_request"]["updated_at"] = updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload


@pytest.mark.priority_p0
@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        "sha1=" + "0" * 40,
        "sha256=",
        "not a signature at all",
        signed(b'{"action": "closed"}'),  # a real signature, of another body
        signed(b"", secret="another secret"),
    ],
    ids=["missing", "forged", "sha1-only", "empty", "garbage", "of-another-body", "another-secret"],
)
async def test_a_delivery_not_signed_with_the_platforms_secret_is_refused_and_changes_nothing(in_review, signature):
    body = json.dumps(closed_payload(in_review)).encode()
    before = await counts(in_review.platform)

    answer = await in_review.platform.client.post(
        URL, content=body, headers=headers("pull_request", body, signature=signature)
    )

    assert answer.status_code == 401, answer.text
    assert "X-Hub-Signature-256" in answer.json()["detail"]
    assert await counts(in_review.platform) == before
    assert (await in_review.task()).status == "review"


@pytest.mark.priority_p0
async def test_a_replayed_delivery_changes_nothing_twice_and_is_answered_2xx(in_review):
    body = json.dumps(closed_payload(in_review)).encode()
    sent = headers("pull_request", body)
    first = await in_review.platform.client.post(URL, content=body, headers=sent)
    after_first = await counts(in_review.platform)

    again = await in_review.platform.client.post(URL, content=body, headers=sent)

    assert (first.status_code, first.json()["result"]) == (200, "applied")
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    assert await counts(in_review.platform) == after_first
    assert [e.type for e in await in_review.events("pull_request.closed")] == ["pull_request.closed"]


async def test_githubs_redelivery_of_an_applied_delivery_is_a_duplicate(in_review):
    in_review.merge()
    await in_review.deliver()
    merged = next(d for d in in_review.github.deliveries() if (d.event, d.action) == ("pull_request", "closed"))
    before = await counts(in_review.platform)

    again = in_review.github.redeliver(merged.id)
    (redelivered,) = await in_review.deliver()

    assert (again.guid, again.redelivery) == (merged.guid, True)
    assert (redelivered.status_code, redelivered.result) == (200, "duplicate")
    assert await counts(in_review.platform) == before
    assert len(await in_review.events("pull_request.merged")) == 1


async def test_a_stale_delivery_does_not_undo_a_newer_state_of_the_pull_request(in_review):
    """Closed, then reopened: a delivery of the close that comes late (with a GUID of its own, as a second
    copy would) is older than the reopening, and the task stays in review."""
    late_close = closed_payload(in_review, updated_at=datetime.now(UTC) - timedelta(hours=1))
    await in_review.deliver()
    in_review.reopen()
    await in_review.deliver()
    assert (await in_review.task()).status == "review"
    body = json.dumps(late_close).encode()

    answer = await in_review.platform.client.post(URL, content=body, headers=headers("pull_request", body))

    assert (answer.status_code, answer.json()["result"]) == (200, "ignored"), answer.text
    assert answer.json()["detail"].startswith("a stale delivery")
    assert (await in_review.task()).status == "review"


@pytest.mark.parametrize("what", ["repository", "pull request"])
async def test_a_delivery_about_what_no_task_has_is_answered_2xx_and_changes_nothing(in_review, what):
    payload = closed_payload(in_review)
    if what == "repository":
        payload["repository"]["full_name"] = "someone-else/their-repo"
    else:
        payload["pull_request"]["number"] = payload["number"] = 4242
        payload["pull_request"]["head"]["ref"] = "someone-elses-branch"
    body = json.dumps(payload).encode()
    before = await counts(in_review.platform)

    answer = await in_review.platform.client.post(URL, content=body, headers=headers("pull_request", body))

    assert (answer.status_code, answer.json()["result"]) == (200, "ignored"), answer.text
    assert "no task of this platform has pull request" in answer.json()["detail"]
    assert await counts(in_review.platform) == before


async def test_the_ping_of_a_new_hook_is_answered(webhook_platform):
    body = json.dumps({"zen": "Design for failure.", "hook_id": 7, "hook": {}}).encode()

    answer = await webhook_platform.client.post(URL, content=body, headers=headers("ping", body))

    assert answer.status_code == 200
    assert answer.json() == {"result": "ignored", "detail": "pong: hook 7 reaches this platform"}


async def test_a_delivery_of_a_hook_made_with_the_form_content_type_is_read_from_its_payload_field(in_review):
    """GitHub's default content type for a hook made by hand: the JSON in a `payload` form field."""
    body = urlencode({"payload": json.dumps(closed_payload(in_review))}).encode()
    sent = headers("pull_request", body) | {"Content-Type": "application/x-www-form-urlencoded"}

    answer = await in_review.platform.client.post(URL, content=body, headers=sent)

    assert (answer.status_code, answer.json()["result"]) == (200, "applied"), answer.text
    assert (await in_review.task()).status == "failed"


@pytest.mark.parametrize(
    "body, drop, detail",
    [
        (b"[1, 2]", None, "not a JSON object"),
        (b"\xff\xfe", None, "not a JSON object"),
        (b"{}", "X-GitHub-Event", "names its event"),
        (b"{}", "X-GitHub-Delivery", "names its event"),
        (b'{"action": "closed", "repository": {"full_name": "a/b"}}', None, "no pull_request object"),
    ],
    ids=["array", "not-utf8", "no-event", "no-guid", "no-pull-request"],
)
async def test_a_signed_delivery_that_is_not_as_github_sends_them_is_a_400(webhook_platform, body, drop, detail):
    sent = headers("pull_request", body)
    sent.pop(drop or "", None)

    answer = await webhook_platform.client.post(URL, content=body, headers=sent)

    assert answer.status_code == 400, answer.text
    assert detail in answer.json()["detail"]


async def test_a_platform_without_a_webhook_secret_refuses_deliveries_naming_the_setting(configured_platform):
    platform = await configured_platform(github_webhook_secret="")
    body = b'{"zen": "Keep it logically awesome."}'

    answer = await platform.client.post(URL, content=body, headers=headers("ping", body))

    assert answer.status_code == 503
    assert "GITHUB_WEBHOOK_SECRET is not set" in answer.json()["detail"]


async def test_deliveries_have_a_body_limit_of_their_own_in_place_of_the_requests(configured_platform):
    """Larger than any other request may be (REQUEST_MAX_BODY_BYTES), within GITHUB_WEBHOOK_MAX_BODY_BYTES:
    read and answered; past the webhook limit: 413 naming it, declared or not."""
    platform = await configured_platform(request_max_body_bytes=1024, github_webhook_max_body_bytes=8192)
    fits = json.dumps({"zen": "x" * 4000}).encode()
    too_large = json.dumps({"zen": "x" * 9000}).encode()

    taken = await platform.client.post(URL, content=fits, headers=headers("ping", fits))
    refused = await platform.client.post(URL, content=too_large, headers=headers("ping", too_large))
    streamed = await platform.client.post(URL, content=chunks(too_large, 5000), headers=headers("ping", too_large))
    elsewhere = await platform.client.post("/api/v1/tasks", content=fits, headers={"Content-Type": "application/json"})

    assert taken.status_code == 200, taken.text
    for answer in (refused, streamed):
        assert answer.status_code == 413
        assert "at most 8192 bytes (GITHUB_WEBHOOK_MAX_BODY_BYTES)" in answer.json()["detail"]
    assert elsewhere.status_code == 413
    assert "(REQUEST_MAX_BODY_BYTES)" in elsewhere.json()["detail"]


async def test_text_from_github_the_database_cannot_hold_is_stored_replaced(in_review):
    """A NUL or an unpaired surrogate in a review (PostgreSQL refuses both) does not lose the delivery."""
    in_review.request_changes("fix\x00this \ud800 please")

    (review,) = [d for d in await in_review.deliver() if d.event == "pull_request_review"]

    assert review.status_code == 202, review.answer
    (requested,) = await in_review.events("review.changes_requested")
    assert requested.data["body"] == "fix\ufffdthis ? please"
