"""The Connect protocol's streaming framing with the JSON codec, as envd speaks it.

Every message is an envelope: 1 flag byte, a 4-byte big-endian length, then the JSON. The server's
last envelope has flag 0x02 (end of stream) and carries `{}` or `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import struct
from typing import Any

CONTENT_TYPE = "application/connect+json"
FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
HEADER = struct.Struct(">BI")

# Connect error codes used by the fake (https://connectrpc.com/docs/protocol#error-codes).
INVALID_ARGUMENT = "invalid_argument"
DEADLINE_EXCEEDED = "deadline_exceeded"
NOT_FOUND = "not_found"
INTERNAL = "internal"
UNAVAILABLE = "unavailable"
UNAUTHENTICATED = "unauthenticated"


class ConnectError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


def encode_envelope(message: Any, *, flags: int = 0) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(flags, len(payload)) + payload


def end_of_stream(error: ConnectError | None = None) -> bytes:
    return encode_envelope({"error": error.to_json()} if error else {}, flags=FLAG_END_STREAM)


def decode_envelopes(data: bytes) -> list[tuple[int, Any]]:
    """All (flags, JSON) envelopes of a buffer; raises ConnectError(invalid_argument) on bad framing."""
    envelopes: list[tuple[int, Any]] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER.size:
            raise ConnectError(INVALID_ARGUMENT, "protocol error: incomplete envelope")
        flags, length = HEADER.unpack_from(data, offset)
        offset += HEADER.size
        payload = data[offset : offset + length]
        if len(payload) != length:
            raise ConnectError(INVALID_ARGUMENT, f"protocol error: promised {length} bytes in enveloped message")
        offset += length
        if flags & FLAG_COMPRESSED:
            raise ConnectError(INVALID_ARGUMENT, "protocol error: compressed messages are not supported")
        try:
            envelopes.append((flags, json.loads(payload)))
        except ValueError as error:
            raise ConnectError(INVALID_ARGUMENT, f"unmarshal message: {error}") from None
    return envelopes


def decode_request(data: bytes) -> dict[str, Any]:
    """The single request message of a server-streaming call."""
    envelopes = decode_envelopes(data)
    if len(envelopes) != 1:
        raise ConnectError(INVALID_ARGUMENT, f"expected one request message, got {len(envelopes)}")
    flags, message = envelopes[0]
    if flags != 0 or not isinstance(message, dict):
        raise ConnectError(INVALID_ARGUMENT, "unmarshal message: expected a JSON object")
    return message


def parse_timeout_ms(value: str | None) -> int | None:
    """The `connect-timeout-ms` header: at most 10 digits (the protocol's limit)."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > 10:
        raise ConnectError(INVALID_ARGUMENT, f"protocol error: invalid timeout {value!r}")
    return int(value)
