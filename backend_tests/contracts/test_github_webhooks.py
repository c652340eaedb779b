"""Repository webhooks of the fake GitHub: the hooks REST API, and deliveries as GitHub makes them.

A receiver on loopback takes the deliveries (the fake's server sends them from its worker thread); each
is checked against the official description's `x-webhooks` (by the `github_webhook_schema` fixture, and
for every delivery of every test by the fake_github fixture), its signature verified over the exact bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fixtures import http
from fixtures.waiting import eventually
from mocks.common.deliverers import InlineDeliverer, LoopDeliverer
from mocks.common.respx_bridge import forward_to
from mocks.common.server import serve_in_thread
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

SchemaCheck = Callable[..., None]
WebhookCheck = Callable[[dict[str, str], bytes], dict[str, Any]]
SECRET = "It's a Secret to Everybody"
REVIEWER, REVIEWER_TOKEN = "rita-reviewer", "ghp_contract_reviewer_token"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Delivered:
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["x-github-event"]


@dataclass
class Receiver:
    """A web server taking webhook deliveries at `url`; it answers `status`, or waits while `hold` is clear."""

    url: str
    received: list[Delivered] = field(default_factory=list)
    status: int = 200
    hold: threading.Event = field(default_factory=threading.Event)

    def events(self) -> list[tuple[str, str | None]]:
        return [(item.event, json.loads(item.body).get("action")) for item in self.received]

    def wait_for(self, count: int) -> list[Delivered]:
        def enough() -> list[Delivered]:
            assert len(self.received) >= count, f"{len(self.received)} deliveries: {self.events()}"
            return list(self.received)

        return eventually(enough, description=f"{count} deliveries at the receiver")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    state.hold.set()

    async def take(request: Request) -> Response:
        body = await request.body()
        state.received.append(Delivered({k.lower(): v for k, v in request.headers.items()}, body))
        await asyncio.to_thread(state.hold.wait, 30)  # a test holds the answer to make a delivery time out
        return PlainTextResponse("thanks" if state.status < 400 else "nope", state.status, headers={"x-seen": "1"})

    server = serve_in_thread(Starlette(routes=[Route("/hooks/github", take, methods=["POST"])]))
    state.url = f"{server.url}/hooks/github"
    yield state
    state.hold.set()
    server.stop()


@pytest.fixture
def widgets(fake_github: FakeGitHub) -> str:
    fake_github.create_repo("acme", "widgets")
    return "/repos/acme/widgets"


@pytest.fixture
def api(github_url: str, github_token: str) -> Iterator[httpx.Client]:
    with http.Client(base_url=github_url, headers={"Authorization": f"Bearer {github_token}"}) as client:
        yield client


@pytest.fixture
def reviewer(fake_github: FakeGitHub, github_url: str) -> Iterator[httpx.Client]:
    fake_github.add_token(REVIEWER_TOKEN, REVIEWER)
    with http.Client(base_url=github_url, headers={"Authorization": f"Bearer {REVIEWER_TOKEN}"}) as client:
        yield client


def create_hook(api: httpx.Client, url: str, **settings: Any) -> dict[str, Any]:
    config = {"url": url, "content_type": "json", **settings.pop("config", {})}
    response = api.post("/repos/acme/widgets/hooks", json={"config": config, "events": ["*"], **settings})
    assert response.status_code == 201, response.text
    return response.json()


def signature(secret: str, body: bytes, digest: str = "sha256") -> str:
    return f"{digest}=" + hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


# -- deliveries as GitHub makes them ---------------------------------------------------------------------
def test_a_new_hook_is_pinged_with_githubs_headers_and_a_signed_body(
    fake_github: FakeGitHub,
    widgets: str,
    api: httpx.Client,
    receiver: Receiver,
    github_webhook_schema: WebhookCheck,
    github_schema: SchemaCheck,
) -> None:
    hook = create_hook(api, receiver.url, config={"secret": SECRET})

    [ping] = receiver.wait_for(1)

    repo_id = fake_github.get_repo("acme", "widgets").id  # type: ignore[union-attr]
    assert ping.headers["x-github-event"] == "ping"
    assert GUID.match(ping.headers["x-github-delivery"])
    assert ping.headers["x-github-hook-id"] == str(hook["id"])
    assert ping.headers["x-github-hook-installation-target-type"] == "repository"
    assert ping.headers["x-github-hook-installation-target-id"] == str(repo_id)
    assert re.fullmatch(r"GitHub-Hookshot/[0-9a-f]{7}", ping.headers["user-agent"])
    assert ping.headers["content-type"] == "application/json"
    assert ping.headers["x-hub-signature-256"] == signature(SECRET, ping.body)
    assert ping.headers["x-hub-signature"] == signature(SECRET, ping.body, "sha1")
    payload = github_webhook_schema(ping.headers, ping.body)
    assert (payload["hook_id"], payload["hook"]["config"]["url"], payload["zen"]) == (
        hook["id"],
        receiver.url,
        payload["zen"],
    )
    assert payload["zen"] and payload["repository"]["full_name"] == "acme/widgets"
    assert hook["config"]["secret"] == "********" and SECRET not in json.dumps(payload)
    github_schema(hook, "hook")


def test_a_form_hook_without_a_secret_gets_the_payload_in_a_form_field_and_no_signature(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, github_webhook_schema: WebhookCheck
) -> None:
    response = api.post("/repos/acme/widgets/hooks", json={"config": {"url": receiver.url}})

    [ping] = receiver.wait_for(1)

    assert response.json()["config"]["content_type"] == "form" and response.json()["events"] == ["push"]
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert ping.body.startswith(b"payload=")
    assert "x-hub-signature-256" not in ping.headers and "x-hub-signature" not in ping.headers
    assert github_webhook_schema(ping.headers, ping.body)["hook_id"] == response.json()["id"]


def test_a_pull_requests_life_reaches_the_hook_as_githubs_events(
    fake_github: FakeGitHub,
    widgets: str,
    api: httpx.Client,
    reviewer: httpx.Client,
    receiver: Receiver,
    github_webhook_schema: WebhookCheck,
) -> None:
    """Opened, pushed to, reviewed with a comment on a line, discussed, edited, closed, reopened, merged."""
    create_hook(api, receiver.url, config={"secret": SECRET})
    receiver.wait_for(1)
    first = fake_github.commit("acme", "widgets", "squad/task-1", {"calc.py": "def add(a, b):\n    return a - b\n"})
    receiver.wait_for(2)  # the branch's push
    api.post(f"{widgets}/pulls", json={"title": "Fix add", "head": "squad/task-1", "base": "main"})
    second = fake_github.commit("acme", "widgets", "squad/task-1", {"calc.py": "def add(a, b):\n    return a + b\n"})
    review = {"event": "REQUEST_CHANGES", "body": "Test it", "comments": [{"path": "calc.py", "line": 2, "body": "+?"}]}
    reviewer.post(f"{widgets}/pulls/1/reviews", json=review)
    reviewer.post(f"{widgets}/issues/1/comments", json={"body": "Please add a test"})
    api.patch(f"{widgets}/pulls/1", json={"title": "Fix add()"})
    api.patch(f"{widgets}/pulls/1", json={"state": "closed"})
    api.patch(f"{widgets}/pulls/1", json={"state": "open"})
    merged = reviewer.put(f"{widgets}/pulls/1/merge", json={"merge_method": "squash"}).json()["sha"]

    fake_github.wait_for_deliveries(timeout=20)
    received = receiver.wait_for(13)

    assert receiver.events() == [
        ("ping", None),
        ("push", None),
        ("pull_request", "opened"),
        ("push", None),
        ("pull_request", "synchronize"),
        ("pull_request_review_comment", "created"),
        ("pull_request_review", "submitted"),
        ("issue_comment", "created"),
        ("pull_request", "edited"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("push", None),
        ("pull_request", "closed"),
    ]
    payloads = [github_webhook_schema(item.headers, item.body) for item in received]
    assert all(item.headers["x-hub-signature-256"] == signature(SECRET, item.body) for item in received)
    assert payloads[2]["pull_request"]["head"]["sha"] == first and payloads[2]["sender"]["login"] == "squad-bot"
    assert (payloads[4]["before"], payloads[4]["after"]) == (first, second)
    assert payloads[5]["comment"]["line"] == 2 and payloads[5]["comment"]["user"]["login"] == REVIEWER
    assert (payloads[6]["review"]["state"], payloads[6]["review"]["body"]) == ("changes_requested", "Test it")
    assert payloads[7]["issue"]["pull_request"]["url"].endswith("/repos/acme/widgets/pulls/1")
    assert payloads[8]["changes"] == {"title": {"from": "Fix add"}}
    assert (payloads[9]["pull_request"]["merged"], payloads[12]["pull_request"]["merged"]) == (False, True)
    assert payloads[11]["ref"] == "refs/heads/main" and payloads[11]["after"] == merged
    assert payloads[11]["pusher"]["name"] == REVIEWER and payloads[12]["sender"]["login"] == REVIEWER
    assert payloads[12]["pull_request"]["merge_commit_sha"] == merged


def test_a_git_push_is_delivered_as_push_and_synchronize(
    git,
    fake_github: FakeGitHub,
    widgets: str,
    api: httpx.Client,
    receiver: Receiver,
    github_url: str,
    github_token: str,
    github_webhook_schema: WebhookCheck,
    tmp_path: Path,
) -> None:
    before = fake_github.commit("acme", "widgets", "squad/task-2", {"a.txt": "a\n"}, "First attempt")
    api.post(f"{widgets}/pulls", json={"title": "Task 2", "head": "squad/task-2", "base": "main"})
    create_hook(api, receiver.url, events=["push", "pull_request"])
    receiver.wait_for(1)
    work = tmp_path / "work"
    url = github_url.replace("http://", f"http://x-access-token:{github_token}@", 1) + "/acme/widgets.git"
    git.run("clone", "--branch", "squad/task-2", url, str(work))
    (work / "a.txt").write_text("a, answered\n")
    git.run("commit", "-am", "Answer the review", cwd=work)
    git.run("push", "origin", "squad/task-2", cwd=work)
    after = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()

    _, push, synchronize = receiver.wait_for(3)

    pushed = github_webhook_schema(push.headers, push.body)
    assert (push.event, pushed["ref"], pushed["before"], pushed["after"]) == (
        "push",
        "refs/heads/squad/task-2",
        before,
        after,
    )
    assert [commit["message"] for commit in pushed["commits"]] == ["Answer the review"]
    assert pushed["commits"][0]["modified"] == ["a.txt"] and pushed["head_commit"]["id"] == after
    assert (pushed["created"], pushed["deleted"], pushed["forced"]) == (False, False, False)
    assert pushed["pusher"]["name"] == fake_github.user_login
    synchronized = github_webhook_schema(synchronize.headers, synchronize.body)
    assert (synchronized["action"], synchronized["before"], synchronized["after"]) == ("synchronize", before, after)
    assert synchronized["pull_request"]["head"]["sha"] == after


def test_a_hook_hears_only_its_events_and_nothing_while_inactive(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver
) -> None:
    hook = create_hook(api, receiver.url, events=["pull_request"])
    receiver.wait_for(1)
    fake_github.commit("acme", "widgets", "squad/task-3", {"a.txt": "a\n"})  # a push: not heard
    api.patch(f"{widgets}/hooks/{hook['id']}", json={"active": False})
    api.post(f"{widgets}/pulls", json={"title": "Task 3", "head": "squad/task-3", "base": "main"})
    api.patch(f"{widgets}/hooks/{hook['id']}", json={"active": True, "add_events": ["issue_comment"]})
    api.post(f"{widgets}/issues/1/comments", json={"body": "heard"})

    fake_github.wait_for_deliveries(timeout=10)

    assert receiver.events() == [("ping", None), ("issue_comment", "created")]


# -- failures and redelivery ---------------------------------------------------------------------------
def test_a_failed_delivery_is_recorded_with_the_answer_it_got(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, github_schema: SchemaCheck
) -> None:
    receiver.status = 500
    hook = create_hook(api, receiver.url)
    fake_github.wait_for_deliveries(timeout=10)

    listed = api.get(f"{widgets}/hooks/{hook['id']}/deliveries")
    detail = api.get(f"{widgets}/hooks/{hook['id']}/deliveries/{listed.json()[0]['id']}")
    shown = api.get(f"{widgets}/hooks/{hook['id']}").json()

    [item] = listed.json()
    assert (item["status"], item["status_code"], item["event"], item["redelivery"]) == (
        "Invalid HTTP Response: 500",
        500,
        "ping",
        False,
    )
    assert item["duration"] >= 0 and item["repository_id"] == fake_github.get_repo("acme", "widgets").id  # type: ignore[union-attr]
    delivered = detail.json()
    assert delivered["url"] == receiver.url and delivered["guid"] == item["guid"]
    assert delivered["request"]["headers"]["X-GitHub-Event"] == "ping"
    assert delivered["request"]["payload"]["hook_id"] == hook["id"]
    assert delivered["response"]["payload"] == "nope" and delivered["response"]["headers"]["x-seen"] == "1"
    assert shown["last_response"] == {"code": 500, "status": "failed", "message": "Invalid HTTP Response: 500"}
    github_schema(delivered, "hook-delivery")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_delivery_nobody_takes_is_recorded_as_failed_to_connect(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client
) -> None:
    create_hook(api, f"http://127.0.0.1:{free_port()}/nobody-listens")

    fake_github.wait_for_deliveries(timeout=10)

    [delivery] = fake_github.deliveries()
    assert (delivery.status, delivery.status_code, delivery.pending) == ("failed to connect to host", 0, False)


def test_a_delivery_not_answered_in_time_is_recorded_as_timed_out(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_github.webhooks, "timeout", 0.3)  # GitHub waits 10 s
    receiver.hold.clear()
    create_hook(api, receiver.url)

    fake_github.wait_for_deliveries(timeout=10)
    receiver.hold.set()

    [delivery] = fake_github.deliveries()
    assert (delivery.status, delivery.status_code) == ("Service Timeout", 0)
    assert delivery.duration >= 0.3


def test_a_redelivery_sends_the_same_delivery_again_and_is_marked_so(
    fake_github: FakeGitHub,
    widgets: str,
    api: httpx.Client,
    receiver: Receiver,
    github_schema: SchemaCheck,
) -> None:
    receiver.status = 503
    hook = create_hook(api, receiver.url, config={"secret": SECRET})
    fake_github.wait_for_deliveries(timeout=10)
    [failed] = api.get(f"{widgets}/hooks/{hook['id']}/deliveries").json()
    receiver.status = 200

    again = api.post(f"{widgets}/hooks/{hook['id']}/deliveries/{failed['id']}/attempts")
    first, second = receiver.wait_for(2)
    fake_github.wait_for_deliveries(timeout=10)
    listed = api.get(f"{widgets}/hooks/{hook['id']}/deliveries").json()

    assert (again.status_code, again.json()) == (202, {})
    assert second.headers["x-github-delivery"] == first.headers["x-github-delivery"] == failed["guid"]
    assert second.body == first.body and second.headers["x-hub-signature-256"] == signature(SECRET, second.body)
    assert [(item["guid"], item["redelivery"], item["status"]) for item in listed] == [
        (failed["guid"], True, "OK"),
        (failed["guid"], False, "Invalid HTTP Response: 503"),
    ]
    github_schema(listed, "hook-delivery-item", array=True)


def test_deliveries_are_listed_newest_first_a_page_at_a_time_and_by_outcome(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver
) -> None:
    hook = create_hook(api, receiver.url, events=["push"])
    fake_github.wait_for_deliveries(timeout=10)
    receiver.status = 404
    fake_github.commit("acme", "widgets", "main", {"a.txt": "a\n"})
    fake_github.commit("acme", "widgets", "main", {"b.txt": "b\n"})
    fake_github.wait_for_deliveries(timeout=10)
    deliveries = f"{widgets}/hooks/{hook['id']}/deliveries"

    first_page = api.get(deliveries, params={"per_page": 2})
    next_page = http.get(
        re.search(r"<([^>]+)>; rel=\"next\"", first_page.headers["link"]).group(1), headers=api.headers
    )  # type: ignore[union-attr]
    failures = api.get(deliveries, params={"status": "failure"}).json()
    successes = api.get(deliveries, params={"status": "success"}).json()

    assert [item["event"] for item in first_page.json()] == ["push", "push"]
    assert [item["event"] for item in next_page.json()] == ["ping"] and "link" not in next_page.headers
    assert first_page.json()[0]["id"] > first_page.json()[1]["id"] > next_page.json()[0]["id"]
    assert [item["status_code"] for item in failures] == [404, 404]
    assert [item["event"] for item in successes] == ["ping"]


# -- the hooks API -------------------------------------------------------------------------------------
def test_ping_and_the_push_test_deliver_to_the_hook_asked(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, github_webhook_schema: WebhookCheck
) -> None:
    hook = create_hook(api, receiver.url, events=["push"])
    receiver.wait_for(1)
    quiet = create_hook(api, f"{receiver.url}?quiet", events=["issue_comment"])
    receiver.wait_for(2)

    pinged = api.post(f"{widgets}/hooks/{hook['id']}/pings")
    tested = api.post(f"{widgets}/hooks/{hook['id']}/tests")
    not_subscribed = api.post(f"{widgets}/hooks/{quiet['id']}/tests")
    fake_github.wait_for_deliveries(timeout=10)

    assert (pinged.status_code, tested.status_code, not_subscribed.status_code) == (204, 204, 204)
    assert pinged.content == tested.content == b""
    assert receiver.events() == [("ping", None), ("ping", None), ("ping", None), ("push", None)]
    push = github_webhook_schema(receiver.received[3].headers, receiver.received[3].body)
    head = fake_github.branches("acme", "widgets")["main"]
    assert (push["ref"], push["after"], receiver.received[3].headers["x-github-hook-id"]) == (
        "refs/heads/main",
        head,
        str(hook["id"]),
    )


def test_hooks_are_listed_read_changed_and_deleted(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, github_schema: SchemaCheck
) -> None:
    hook = create_hook(api, receiver.url, events=["push"], config={"secret": SECRET})
    hook_url = f"{widgets}/hooks/{hook['id']}"

    listed = api.get(f"{widgets}/hooks")
    changed = api.patch(
        hook_url, json={"events": ["pull_request"], "config": {"url": receiver.url, "content_type": "json"}}
    )
    config = api.patch(f"{hook_url}/config", json={"secret": "another", "insecure_ssl": "1"})
    read = api.get(hook_url)
    deleted = api.delete(hook_url)
    gone = api.get(hook_url)

    assert [item["id"] for item in listed.json()] == [hook["id"]]
    assert changed.json()["events"] == ["pull_request"] and "secret" not in changed.json()["config"]
    assert config.json() == {"content_type": "json", "insecure_ssl": "1", "url": receiver.url, "secret": "********"}
    assert read.json()["config"] == config.json() and read.json()["updated_at"] >= hook["updated_at"]
    assert (deleted.status_code, deleted.content, gone.status_code) == (204, b"", 404)
    github_schema(listed.json(), "hook", array=True)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"config": {"url": "not a url"}}, "The URL you've entered is not valid"),
        ({"config": {}}, "The URL you've entered is not valid"),
        ({"name": "travis", "config": {"url": "https://example.com/hook"}}, None),
    ],
)
def test_a_hook_github_would_not_make_is_refused(
    widgets: str, api: httpx.Client, body: dict[str, Any], error: str | None
) -> None:
    response = api.post(f"{widgets}/hooks", json=body)

    assert response.status_code == 422
    [item] = response.json()["errors"]
    if error is None:
        assert item == {"resource": "Hook", "code": "invalid", "field": "name"}
    else:
        assert item["resource"] == "Hook" and item["message"].startswith(error)


def test_a_second_hook_with_the_same_config_and_events_is_refused(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver
) -> None:
    create_hook(api, receiver.url, events=["push"])

    again = api.post(f"{widgets}/hooks", json={"config": {"url": receiver.url, "content_type": "json"}})
    other_events = api.post(
        f"{widgets}/hooks", json={"config": {"url": receiver.url, "content_type": "json"}, "events": ["pull_request"]}
    )

    assert again.status_code == 422
    assert again.json()["errors"] == [
        {"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}
    ]
    assert other_events.status_code == 201


# -- delivering in process, inline, and through the admin API ----------------------------------------------
async def test_in_process_deliveries_reach_an_asgi_app_through_respx(
    fake_github: FakeGitHub, widgets: str, github_routes: respx.MockRouter, github_token: str
) -> None:
    """How the platform's in-process tests take deliveries: respx routes the hook's URL to an ASGI app on
    the test's event loop, which a LoopDeliverer sends on."""
    received: list[bytes] = []

    async def take(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=204)

    platform = Starlette(routes=[Route("/webhooks/github", take, methods=["POST"])])
    github_routes.route(host="squad.test").mock(side_effect=forward_to(platform))
    headers = {"Authorization": f"Bearer {github_token}"}
    with fake_github.delivering_with(LoopDeliverer(asyncio.get_running_loop())):
        async with http.AsyncClient(base_url=GITHUB_API_URL, headers=headers) as client:
            created = await client.post(
                f"{widgets}/hooks",
                json={"config": {"url": "http://squad.test/webhooks/github", "content_type": "json"}},
            )
        await fake_github.wait_for_deliveries_async(deadline_s=10)

    assert created.status_code == 201
    [delivery] = fake_github.deliveries()
    assert (delivery.status, delivery.status_code) == ("OK", 204)
    assert received == [delivery.body] and json.loads(received[0])["hook"]["config"]["url"].startswith("http://squad")
    assert delivery.payload["repository"]["url"].startswith(GITHUB_API_URL)


def test_an_inline_deliverer_has_delivered_when_the_call_returns(fake_github: FakeGitHub, receiver: Receiver) -> None:
    fake_github.create_repo("acme", "widgets")
    with fake_github.delivering_with(InlineDeliverer()):
        fake_github.create_hook("acme", "widgets", url=receiver.url, content_type="json", events=["push"])
        sha = fake_github.commit("acme", "widgets", "main", {"a.txt": "a\n"})

        deliveries = fake_github.deliveries()

    assert [(d.event, d.pending, d.status) for d in deliveries] == [("ping", False, "OK"), ("push", False, "OK")]
    assert json.loads(receiver.received[1].body)["after"] == sha


def test_the_admin_api_shows_waits_for_and_redelivers_deliveries(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver, github_url: str
) -> None:
    receiver.status = 500
    hook = create_hook(api, receiver.url)

    waited = http.post(f"{github_url}/_fake/deliveries/wait", json={"timeout": 10})
    shown = http.get(f"{github_url}/_fake/deliveries", params={"hook_id": hook["id"]})
    receiver.status = 200
    again = http.post(f"{github_url}/_fake/deliveries/{shown.json()[0]['id']}/redeliver")
    http.post(f"{github_url}/_fake/deliveries/wait", json={"timeout": 10})

    assert waited.status_code == 204
    [delivery] = shown.json()
    assert (delivery["event"], delivery["status_code"], delivery["pending"]) == ("ping", 500, False)
    assert json.loads(delivery["body"]) == delivery["request"]["payload"]
    assert again.status_code == 202 and again.json()["redelivery"] is True
    assert [(d.redelivery, d.status) for d in fake_github.deliveries()] == [
        (False, "Invalid HTTP Response: 500"),
        (True, "OK"),
    ]


def test_waiting_for_deliveries_says_which_are_still_pending(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, receiver: Receiver
) -> None:
    receiver.hold.clear()
    create_hook(api, receiver.url)
    receiver.wait_for(1)

    with pytest.raises(TimeoutError, match=r"1 webhook deliveries still pending .*ping to http"):
        fake_github.wait_for_deliveries(timeout=0.2)
    receiver.hold.set()
    fake_github.wait_for_deliveries(timeout=10)


@pytest.mark.parametrize(
    ("event", "body", "problem"),
    [
        ("push", b'{"ref": 1}', "push: (root): 'before' is a required property"),
        ("pull_request", b'{"action": "opened"}', "pull-request-opened: (root): 'number' is a required property"),
        ("pull_request", b'{"action": "exploded"}', "pull-request-exploded: no such webhook"),
    ],
)
def test_the_webhook_check_finds_a_payload_that_breaks_the_description(
    github_webhook_schema: WebhookCheck, event: str, body: bytes, problem: str
) -> None:
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}

    with pytest.raises(AssertionError) as refused:
        github_webhook_schema(headers, body)

    assert problem in str(refused.value)


def test_a_git_push_is_heard_as_pushed_by_the_user_whose_token_pushed(
    git,
    fake_github: FakeGitHub,
    widgets: str,
    api: httpx.Client,
    reviewer: httpx.Client,
    receiver: Receiver,
    github_url: str,
    github_webhook_schema: WebhookCheck,
    tmp_path: Path,
) -> None:
    create_hook(api, receiver.url, events=["push"])
    receiver.wait_for(1)
    work = tmp_path / "work"
    url = github_url.replace("http://", f"http://x-access-token:{REVIEWER_TOKEN}@", 1) + "/acme/widgets.git"
    git.run("clone", url, str(work))
    git.run("checkout", "-b", "review/suggestion", cwd=work)
    git.run("push", "origin", "review/suggestion", cwd=work)

    _, push = receiver.wait_for(2)

    pushed = github_webhook_schema(push.headers, push.body)
    assert (pushed["pusher"]["name"], pushed["sender"]["login"]) == (REVIEWER, REVIEWER)
    assert (pushed["created"], pushed["commits"], pushed["head_commit"]["id"]) == (True, [], pushed["after"])


def test_a_token_that_cannot_see_the_repository_sees_neither_its_hooks_nor_its_reviews(
    fake_github: FakeGitHub, widgets: str, api: httpx.Client, reviewer: httpx.Client, receiver: Receiver
) -> None:
    hook = create_hook(api, receiver.url)
    fake_github.commit("acme", "widgets", "squad/task-4", {"a.txt": "a\n"})
    api.post(f"{widgets}/pulls", json={"title": "Task 4", "head": "squad/task-4", "base": "main"})
    fake_github.set_permission("acme", "widgets", REVIEWER_TOKEN, "none")

    answers = [
        reviewer.get(f"{widgets}/hooks"),
        reviewer.get(f"{widgets}/hooks/{hook['id']}/deliveries"),
        reviewer.post(f"{widgets}/pulls/1/reviews", json={"event": "APPROVE"}),
        reviewer.put(f"{widgets}/pulls/1/merge", json={}),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert fake_github.pull_requests("acme", "widgets")[0].reviews == []
