"""Repository webhooks: the hooks of each repository, the events they hear, and every delivery made to them.

Plain Python. The state turns what happens (a pull request opened, a review submitted, a push) into a
`HookEvent`; `HookBook.prepare` makes one `Delivery` per active hook that subscribes to the event, with the
payload of the moment (built by the `payloads` function the app hands in, from representations.py) and
GitHub's headers and signatures over the exact bytes of the body; `HookBook.send` hands them to the
`Deliverer` (mocks.common.outbound), which sends them without holding up the request that caused them and
reports back. What came of each delivery is recorded as GitHub shows it in a hook's deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from mocks.common.outbound import Deliverer, Outcome, OutgoingRequest

if TYPE_CHECKING:
    from mocks.github.reviews import IssueComment, Review, ReviewComment
    from mocks.github.state import PullRequest, Repository

# GitHub waits this long for a hook's answer before it gives the delivery up.
DELIVERY_TIMEOUT = 10.0
HOOKSHOT_VERSION = hashlib.sha1(b"agent-squad fake hookshot", usedforsecurity=False).hexdigest()[:7]
USER_AGENT = f"GitHub-Hookshot/{HOOKSHOT_VERSION}"
CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
ZERO_SHA = "0" * 40
# GitHub sends one of its zen sayings with every ping.
ZEN = (
    "Design for failure.",
    "Keep it logically awesome.",
    "Speak like a human.",
    "Non-blocking is better than blocking.",
    "Responsive is better than fast.",
    "Approachable is better than simple.",
    "Mind your words, they are important.",
)
# What a delivery's `status` says when no HTTP answer came back (GitHub's words on its deliveries page).
FAILURE_STATUS = {"connect": "failed to connect to host", "timeout": "Service Timeout", "error": "Unknown error"}


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class HookConfig:
    url: str
    content_type: str = "form"  # GitHub's default
    secret: str | None = None
    insecure_ssl: str = "0"


@dataclass(frozen=True)
class LastResponse:
    code: int | None
    status: str
    message: str | None


UNUSED = LastResponse(None, "unused", None)


@dataclass
class Hook:
    id: int
    repo_id: int
    owner: str
    repo_name: str
    config: HookConfig
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
    last_response: LastResponse = UNUSED

    def hears(self, event: str) -> bool:
        return "*" in self.events or event in self.events


@dataclass
class Delivery:
    """One attempt to deliver an event to a hook (a redelivery is a new attempt with the same `guid`)."""

    id: int
    guid: str
    hook_id: int
    repository_id: int
    event: str
    action: str | None
    url: str
    request_headers: dict[str, str]
    payload: dict[str, Any]
    body: bytes  # exactly what was sent, and signed
    redelivery: bool
    delivered_at: datetime
    pending: bool = True
    status: str = "pending"
    status_code: int = 0
    duration: float = 0.0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True)
class Push:
    """A branch moved: `before` and `after` (ZERO_SHA for a branch created or deleted), the commits it gained."""

    branch: str
    before: str
    after: str
    commits: list[str]  # oldest first
    forced: bool
    pusher: str  # login

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"


@dataclass
class HookEvent:
    """What happened, as a webhook tells it: the event (X-GitHub-Event), its action, the repository, who
    caused it, and what it is about. Payloads are built from it while the state is as the event left it."""

    name: str
    action: str | None
    repo: Repository
    sender: str  # login
    api_url: str = ""
    pull: PullRequest | None = None
    review: Review | None = None
    comment: ReviewComment | IssueComment | None = None
    changes: dict[str, Any] | None = None
    push: Push | None = None
    hook_id: int | None = None  # ping and test deliveries go to this hook only
    zen: str = ""


# (event, hook) -> the payload, built by the app's representations of the state's objects.
PayloadBuilder = Callable[[HookEvent, Hook], dict[str, Any]]


def signature_headers(body: bytes, secret: str | None) -> dict[str, str]:
    """X-Hub-Signature (HMAC-SHA1) and X-Hub-Signature-256 (HMAC-SHA256) of the exact body; none without a secret."""
    if not secret:
        return {}
    key = secret.encode()
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def encode(payload: dict[str, Any], content_type: str) -> bytes:
    """The body GitHub sends: the JSON itself, or (form) the JSON in a `payload` form field."""
    text = json.dumps(payload, separators=(",", ":"))
    if content_type == "form":
        return urlencode({"payload": text}).encode()
    return text.encode()


def is_hook_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class HookBook:
    """Every repository's hooks and every delivery; safe to use from the server's and the deliverer's threads."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.RLock())
        self._hooks: dict[int, Hook] = {}
        self._deliveries: dict[int, Delivery] = {}
        self._ids = itertools.count(1)
        self._zen = itertools.cycle(ZEN)
        self._pending = 0
        self._generation = 0  # bumped by clear(): what an older delivery reports is dropped
        self.payloads: PayloadBuilder | None = None
        self.deliverer: Deliverer | None = None
        self.timeout = DELIVERY_TIMEOUT

    # -- hooks ------------------------------------------------------------------------------------------
    def add(self, repo: Repository, config: HookConfig, events: list[str], active: bool) -> Hook:
        with self._condition:
            created = now()
            hook = Hook(next(self._ids), repo.id, repo.owner, repo.name, config, events, active, created, created)
            self._hooks[hook.id] = hook
            return hook

    def hooks(self, repo_id: int) -> list[Hook]:
        with self._condition:
            return [hook for hook in self._hooks.values() if hook.repo_id == repo_id]

    def get(self, repo_id: int, hook_id: int) -> Hook | None:
        with self._condition:
            hook = self._hooks.get(hook_id)
            return hook if hook is not None and hook.repo_id == repo_id else None

    def remove(self, hook_id: int) -> None:
        with self._condition:
            self._hooks.pop(hook_id, None)

    def drop_repository(self, repo_id: int) -> None:
        with self._condition:
            for hook in self.hooks(repo_id):
                self._hooks.pop(hook.id, None)

    def next_zen(self) -> str:
        with self._condition:
            return next(self._zen)

    # -- deliveries -------------------------------------------------------------------------------------
    def prepare(self, event: HookEvent) -> list[Delivery]:
        """One delivery for each hook that hears `event`, payload built now. Call under the state's lock,
        then `send` what it returns once that lock is released."""
        with self._condition:
            if event.hook_id is not None:
                hook = self._hooks.get(event.hook_id)
                targets = [hook] if hook is not None else []
            else:
                targets = [
                    hook
                    for hook in self._hooks.values()
                    if hook.repo_id == event.repo.id and hook.active and hook.hears(event.name)
                ]
            if not targets:
                return []
            if self.payloads is None:
                raise RuntimeError(
                    "the fake GitHub cannot build webhook payloads: build its app (build_app, github_router) first"
                )
            deliveries = []
            for hook in targets:
                payload = self.payloads(event, hook)
                delivery_id = next(self._ids)
                guid = str(uuid.uuid4())
                body = encode(payload, hook.config.content_type)
                delivery = Delivery(
                    id=delivery_id,
                    guid=guid,
                    hook_id=hook.id,
                    repository_id=hook.repo_id,
                    event=event.name,
                    action=event.action,
                    url=hook.config.url,
                    request_headers=self._headers(hook, event.name, guid, body),
                    payload=payload,
                    body=body,
                    redelivery=False,
                    delivered_at=now(),
                )
                self._deliveries[delivery.id] = delivery
                deliveries.append(delivery)
            return deliveries

    def redeliver(self, delivery_id: int) -> Delivery | None:
        """A new attempt of a delivery: the same GUID and body, to the hook as it is configured now."""
        with self._condition:
            original = self._deliveries.get(delivery_id)
            hook = self._hooks.get(original.hook_id) if original is not None else None
            if original is None or hook is None:
                return None
            again = replace(
                original,
                id=next(self._ids),
                url=hook.config.url,
                request_headers=self._headers(hook, original.event, original.guid, original.body),
                redelivery=True,
                delivered_at=now(),
                pending=True,
                status="pending",
                status_code=0,
                duration=0.0,
                response_headers={},
                response_body=None,
            )
            self._deliveries[again.id] = again
            return again

    def _headers(self, hook: Hook, event: str, guid: str, body: bytes) -> dict[str, str]:
        return {
            "Accept": "*/*",
            "Content-Type": CONTENT_TYPES[hook.config.content_type],
            "User-Agent": USER_AGENT,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Event": event,
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-ID": str(hook.repo_id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            **signature_headers(body, hook.config.secret),
        }

    def send(self, deliveries: list[Delivery]) -> None:
        """Hand the deliveries to the deliverer; each is recorded as done when it reports back."""
        for delivery in deliveries:
            with self._condition:
                deliverer = self.deliverer
                hook = self._hooks.get(delivery.hook_id)
                if deliverer is None:
                    raise RuntimeError("the fake GitHub has no deliverer: build its app, or set fake.deliverer")
                generation = self._generation
                self._pending += 1
            verify = hook is None or hook.config.insecure_ssl != "1"
            request = OutgoingRequest(delivery.url, dict(delivery.request_headers), delivery.body, self.timeout, verify)
            started = time.monotonic()

            def done(outcome: Outcome, delivery: Delivery = delivery, generation: int = generation) -> None:
                self._record(delivery, outcome, generation)

            try:
                deliverer.submit(request, done)
            except Exception as error:  # a deliverer that cannot even start is a failed delivery
                done(Outcome(time.monotonic() - started, failure="error", body=str(error)))

    def _record(self, delivery: Delivery, outcome: Outcome, generation: int) -> None:
        with self._condition:
            if generation != self._generation:
                return  # the fake was reset meanwhile
            delivery.pending = False
            delivery.duration = round(outcome.duration, 3)
            delivery.status_code = outcome.status_code or 0
            delivery.response_headers = dict(outcome.headers)
            delivery.response_body = outcome.body
            if outcome.status_code is None:
                delivery.status = FAILURE_STATUS.get(outcome.failure or "error", FAILURE_STATUS["error"])
            elif outcome.succeeded:
                delivery.status = "OK"
            else:
                delivery.status = f"Invalid HTTP Response: {outcome.status_code}"
            hook = self._hooks.get(delivery.hook_id)
            if hook is not None:
                # GitHub does not document its word for a hook whose last delivery failed; "failed" is ours.
                hook.last_response = LastResponse(
                    outcome.status_code, "active" if delivery.succeeded else "failed", delivery.status
                )
            self._pending -= 1
            self._condition.notify_all()

    def deliveries(self, hook_id: int | None = None) -> list[Delivery]:
        """Every delivery, oldest first (only those to `hook_id` when given), pending ones included."""
        with self._condition:
            return [d for d in self._deliveries.values() if hook_id is None or d.hook_id == hook_id]

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self._condition:
            return self._deliveries.get(delivery_id)

    @property
    def pending(self) -> int:
        with self._condition:
            return self._pending

    def wait(self, timeout: float) -> None:
        """Return once no delivery is pending; TimeoutError, naming those still pending, after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    waiting = [f"{d.event} to {d.url}" for d in self._deliveries.values() if d.pending]
                    raise TimeoutError(f"{self._pending} webhook deliveries still pending after {timeout} s: {waiting}")
                self._condition.wait(remaining)

    @contextmanager
    def delivering_with(self, deliverer: Deliverer) -> Iterator[Deliverer]:
        with self._condition:
            previous, self.deliverer = self.deliverer, deliverer
        try:
            yield deliverer
        finally:
            with self._condition:
                self.deliverer = previous

    def clear(self) -> None:
        with self._condition:
            self._hooks.clear()
            self._deliveries.clear()
            self._pending = 0
            self._generation += 1
            self._condition.notify_all()
