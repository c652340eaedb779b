"""Connect protocol envelopes (JSON codec), as envd's Process service speaks them.

An envelope is one flag byte, a 4-byte big-endian length and that many bytes of JSON. Flag 0x02
marks the end-of-stream envelope, whose JSON may carry an error.
"""

import json
import struct
from typing import Any

COMPRESSED_FLAG = 0x01
END_STREAM_FLAG = 0x02
_HEADER = struct.Struct(">BI")


class ProtocolError(ValueError):
    """Bytes that are not a valid Connect stream of JSON messages."""


def encode_envelope(message: dict[str, Any], flags: int = 0) -> bytes:
    payload = json.dumps(message).encode()
    return _HEADER.pack(flags, len(payload)) + payload


class EnvelopeReader:
    """Collects bytes as they arrive and hands back every complete envelope."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[int, dict[str, Any]]]:
        self._buffer.extend(chunk)
        envelopes = []
        while len(self._buffer) >= _HEADER.size:
            flags, length = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + length:
                break
            body = bytes(self._buffer[_HEADER.size : _HEADER.size + length])
            del self._buffer[: _HEADER.size + length]
            envelopes.append((flags, _decode(flags, body)))
        return envelopes

    @property
    def pending(self) -> int:
        return len(self._buffer)


def _decode(flags: int, body: bytes) -> dict[str, Any]:
    if flags & COMPRESSED_FLAG:
        raise ProtocolError("a compressed message, though none was asked for")
    if not body:
        return {}
    try:
        message = json.loads(body)
    except ValueError as error:
        raise ProtocolError(f"a message that is not JSON ({error})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message
