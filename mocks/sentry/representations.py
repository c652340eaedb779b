"""The fake Sentry's JSON: the ingest's answer to an envelope, and the admin dumps of what it received."""

from __future__ import annotations

from typing import Any

from mocks.sentry.state import Envelope, ReceivedEnvelope


def accepted_json(envelope: Envelope) -> dict[str, Any]:
    """Relay answers an accepted envelope with its event id, or `{}` when it carries none (sessions)."""
    return {"id": envelope.event_id} if envelope.event_id else {}


def received_json(received: ReceivedEnvelope) -> dict[str, Any]:
    items = []
    for item in received.envelope.items:
        payload: Any
        try:
            payload = item.json()
        except ValueError:
            payload = item.payload.decode("utf-8", "replace")
        items.append({"headers": item.headers, "payload": payload})
    return {
        "project_id": received.project_id,
        "public_key": received.public_key,
        "received_at": received.received_at,
        "headers": received.envelope.headers,
        "items": items,
        "raw": received.raw.decode("utf-8", "replace"),
    }
