"""The platform's log output: plain lines (the default) or one JSON object per line (LOG_FORMAT=json),
for a log collector that indexes fields. Both pass through the redacting filter (app/redaction.py);
a JSON line is redacted once more as a whole, tracebacks included."""

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.redaction import redact
from app.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The attributes every LogRecord has; anything else on a record came from `extra=` and is logged too.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        return redact(json.dumps(entry, default=str, ensure_ascii=False), self._secrets)


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonFormatter(settings.secrets()) if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(settings: Settings) -> None:
    """One handler on the root logger, in the configured format (a worker process's set-up)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_for(settings))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)


def json_formatter() -> logging.Formatter:
    """The formatter uvicorn's logging config names (app/server.py) when LOG_FORMAT=json."""
    from app.settings import get_settings

    return JsonFormatter(get_settings().secrets())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's loggers, and the root logger, writing JSON lines to standard error."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.logs.json_formatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "INFO"},
    }
