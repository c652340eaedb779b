"""The fake Sentry's state: projects and their keys, and every envelope they accepted, raw and parsed.

Plain Python (no HTTP framework): the request checks (validation.py) parse an envelope into an
`Envelope` and the state decides whether the key may send to the project. What Sentry refuses is a
`SentryError` carrying Relay's status, `detail` and `causes`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mocks.common.service import FakeService

DEFAULT_PROJECT_ID = 1
# A DSN's public key is 32 hex digits; this one says at a glance that it is the fake's.
DEFAULT_PUBLIC_KEY = "fa4e5e47000000000000000000000001"


class SentryError(Exception):
    """An envelope Sentry refuses: the status of its answer and Relay's `detail` and `causes`."""

    def __init__(self, status: int, detail: str, causes: Iterable[str] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.causes = list(causes)


@dataclass(frozen=True)
class EnvelopeItem:
    """One item: its header (`type`, maybe `length`, `content_type`, ...) and its payload bytes."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers["type"])

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[EnvelopeItem]

    @property
    def event_id(self) -> str | None:
        value = self.headers.get("event_id")
        return str(value) if value else None


@dataclass(frozen=True)
class ReceivedEnvelope:
    """An accepted envelope: where it went, which key sent it, and its bytes after decompression."""

    project_id: int
    public_key: str
    raw: bytes
    envelope: Envelope
    received_at: float


@dataclass
class Project:
    project_id: int
    public_keys: set[str] = field(default_factory=set)


class FakeSentry(FakeService):
    def __init__(self, projects: Mapping[int, Iterable[str]] | None = None, *, latency_ms: int = 0) -> None:
        super().__init__(latency_ms=latency_ms)
        given = projects if projects is not None else {DEFAULT_PROJECT_ID: [DEFAULT_PUBLIC_KEY]}
        self._projects = {pid: Project(pid, set(keys)) for pid, keys in given.items()}
        self._received: list[ReceivedEnvelope] = []

    # -- configuration --------------------------------------------------------------------------------
    def dsn(self, base_url: str, project_id: int = DEFAULT_PROJECT_ID, public_key: str | None = None) -> str:
        """The DSN an SDK is configured with to send to this fake served at `base_url`."""
        key = public_key or sorted(self._projects[project_id].public_keys)[0]
        scheme, _, host = base_url.rstrip("/").partition("://")
        return f"{scheme}://{key}@{host}/{project_id}"

    # -- the rules ------------------------------------------------------------------------------------
    def accept(self, project_id: int, public_key: str, raw: bytes, envelope: Envelope) -> ReceivedEnvelope:
        """Keep an envelope sent to `project_id` with `public_key`, or refuse it as Sentry does."""
        with self._lock:
            project = self._projects.get(project_id)
            if project is None:
                raise SentryError(403, "event submission rejected with_reason: ProjectId")
            if public_key not in project.public_keys:
                raise SentryError(
                    401, "invalid api key", [f"the key {public_key!r} is not one of project {project_id}'s"]
                )
            received = ReceivedEnvelope(project_id, public_key, raw, envelope, self.time())
            self._received.append(received)
            return received

    # -- inspection -----------------------------------------------------------------------------------
    def received(self) -> list[ReceivedEnvelope]:
        with self._lock:
            return list(self._received)

    def raw_envelopes(self) -> list[bytes]:
        """Every accepted envelope's bytes as the client sent them (decompressed), oldest first."""
        return [received.raw for received in self.received()]

    def items(self, item_type: str | None = None) -> list[EnvelopeItem]:
        return [
            item
            for received in self.received()
            for item in received.envelope.items
            if item_type is None or item.type == item_type
        ]

    def events(self) -> list[dict[str, Any]]:
        """The payloads of every `event` item (errors and messages), oldest first."""
        return [item.json() for item in self.items("event")]

    def _reset_state(self) -> None:
        with self._lock:
            self._received.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "projects": {str(p.project_id): sorted(p.public_keys) for p in self._projects.values()},
                "envelopes": len(self._received),
            }
