"""Keeps secrets out of everything the platform says: events, errors and logs."""

import logging
from collections.abc import Iterable

REDACTED = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def releasable(text: str, secrets: Iterable[str]) -> int:
    """How much of `text`, which goes on later (a streaming message), can be said now, redacted, without
    a secret ever showing: up to where a secret may be starting that what comes next could complete,
    and never into the middle of a secret it holds whole (which a cut would leave half-matched).

    Redacting `text[:end]` and each later piece from there on keeps every secret out: no secret
    occurrence, now or once the text has gone on, crosses `end`.
    """
    secrets = [secret for secret in secrets if secret]
    end = len(text)
    for secret in secrets:
        # The longest end of the text that is the start of the secret, not the whole of it.
        for size in range(min(len(secret) - 1, len(text)), 0, -1):
            if text.endswith(secret[:size]):
                end = min(end, len(text) - size)
                break
    moved = True
    while moved:
        moved = False
        for secret in secrets:
            start = text.find(secret, max(0, end - len(secret) + 1))
            if start != -1 and start < end < start + len(secret):
                end, moved = start, True
    return end


class StreamRedactor:
    """A streaming text said piece by piece with the secrets out, even one split across pieces.

    `add` takes what arrived and returns what can be said now (redacted); the text held back is the
    start of a secret or not, which only what comes next can tell. Nothing is said twice: the pieces
    returned, joined, are the text redacted as far as it could be released.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(secret for secret in secrets if secret)
        self._held = ""

    def add(self, text: str) -> str:
        self._held += text
        end = releasable(self._held, self._secrets)
        released, self._held = self._held[:end], self._held[end:]
        return redact(released, self._secrets)


class RedactingFilter(logging.Filter):
    """Rewrites every log record so no configured secret reaches a handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            cleaned = redact(message, self._secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True
