"""The checks Sentry's ingest (Relay) makes of an envelope request: who sends it, and is it an envelope.

Authentication comes from the `X-Sentry-Auth` header (`Sentry sentry_key=KEY, sentry_version=7, ...`),
an `Authorization: Sentry ...` header, the `sentry_key` query parameter, or, as for a tunnelled
envelope, the `dsn` in the envelope's own header. The body may be compressed (`Content-Encoding:
gzip`, `deflate`, `br` when brotli is installed, as the Python SDK sends it). An envelope is a JSON
header line, then items, each a JSON header line and a payload: `length` bytes when the header gives
a length, otherwise up to the next newline.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mocks.sentry.state import Envelope, EnvelopeItem, SentryError

EVENT_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# Items whose payload Relay reads as a JSON object.
JSON_ITEMS = frozenset({"event", "transaction", "session", "sessions", "client_report", "check_in", "user_report"})
MAX_ENVELOPE_BYTES = 100 * 1024 * 1024  # Relay's default limit for one envelope


def invalid_envelope(cause: str) -> SentryError:
    return SentryError(400, "invalid event envelope", [cause])


def public_key_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The sender's key from the auth header or the query; None when the request names none. A header
    that is there but malformed is refused (401 "bad x-sentry-auth header")."""
    header = headers.get("x-sentry-auth") or ""
    authorization = headers.get("authorization") or ""
    if not header and authorization.lower().startswith("sentry "):
        header = authorization
    if header:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "sentry":
            raise SentryError(401, "bad x-sentry-auth header", ["the header does not start with 'Sentry '"])
        fields = {}
        for part in rest.split(","):
            name, sep, value = part.strip().partition("=")
            if not sep:
                raise SentryError(401, "bad x-sentry-auth header", [f"malformed field {part.strip()!r}"])
            fields[name.strip()] = value.strip()
        if not fields.get("sentry_key"):
            raise SentryError(401, "bad x-sentry-auth header", ["missing sentry_key"])
        return fields["sentry_key"]
    return query.get("sentry_key") or None


def public_key_of_dsn(envelope: Envelope) -> str | None:
    dsn = envelope.headers.get("dsn")
    if not isinstance(dsn, str):
        return None
    return urlsplit(dsn).username or None


def decoded_body(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]  # only when the SDK compresses so

            return bytes(brotli.decompress(body))
    except ImportError:
        pass
    except (OSError, EOFError, zlib.error) as error:
        raise SentryError(400, "failed to decode request body", [str(error)]) from error
    except Exception as error:  # brotli's own error type
        raise SentryError(400, "failed to decode request body", [str(error)]) from error
    raise SentryError(415, "unsupported content encoding", [encoding])


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as error:
        raise invalid_envelope(f"{what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise invalid_envelope(f"{what} is not a JSON object")
    return value


def parse_envelope(data: bytes) -> Envelope:
    """The envelope of `data` (decompressed), or the 400 Relay answers to a malformed one."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise SentryError(413, "envelope exceeded size limits")
    if not data.strip():
        raise invalid_envelope("empty envelope")
    head, _, rest = data.partition(b"\n")
    headers = _json_object(head, "the envelope header")
    event_id = headers.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not EVENT_ID.match(event_id)):
        raise invalid_envelope(f"invalid event_id {event_id!r}")
    items = []
    position = 0
    while position < len(rest):
        end = rest.find(b"\n", position)
        line = rest[position:] if end == -1 else rest[position:end]
        position = len(rest) if end == -1 else end + 1
        if not line.strip():
            continue  # blank lines between items (a trailing newline) are allowed
        item_headers = _json_object(line, "an item header")
        if not isinstance(item_headers.get("type"), str) or not item_headers["type"]:
            raise invalid_envelope("an item header has no type")
        length = item_headers.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise invalid_envelope(f"invalid item length {length!r}")
            if position + length > len(rest):
                raise invalid_envelope("an item is shorter than its length")
            payload = rest[position : position + length]
            position += length
            if position < len(rest):
                if rest[position : position + 1] != b"\n":
                    raise invalid_envelope("an item's payload is longer than its length")
                position += 1
        else:
            end = rest.find(b"\n", position)
            payload = rest[position:] if end == -1 else rest[position:end]
            position = len(rest) if end == -1 else end + 1
        if item_headers["type"] in JSON_ITEMS:
            _json_object(payload, f"the payload of an {item_headers['type']} item")
        items.append(EnvelopeItem(item_headers, payload))
    return Envelope(headers, items)
