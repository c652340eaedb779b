"""Keeps secrets out of everything the platform says: events, errors and logs."""

import logging
from collections.abc import Iterable

REDACTED = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


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
