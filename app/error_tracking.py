"""Error tracking with Sentry: off unless SENTRY_DSN is set; nothing secret ever leaves in an event.

`start(settings)` initialises the SDK once per process (the web app and `python -m app worker` call it).
Its FastAPI, Starlette and logging integrations report an exception a request did not handle and every
`log.exception` (a crashed pipeline, a worker's failure). `task_scope` gives the events of one job's run
their own tags (task, job, run, attempt, worker); a request's event is tagged with its method and route.

Before an event is sent, `scrub` walks all of it (exception messages, local variables of every frame,
request headers and body, breadcrumbs, extra data) and
- replaces the value of every key that names a secret (token, secret, password, api key,
  authorization, cookie, signature, credential) with "[Filtered]";
- redacts every secret the platform holds (app/redaction.py, the same list the logs use);
- redacts what looks like a credential wherever it appears: bearer and basic credentials, squad
  tokens (sq_...), GitHub, E2B and OpenAI-style keys, and the password of a URL.
"""

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from app.redaction import REDACTED, redact
from app.settings import Settings

FILTERED = "[Filtered]"
SECRET_KEY = re.compile(
    r"token|secret|passw|api[-_]?key|authorization|cookie|signature|credential|private[-_]?key", re.IGNORECASE
)
CREDENTIAL_PATTERNS = (
    # `Authorization: Bearer X`, `token X` (GitHub's), `Basic X`
    (re.compile(r"\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE), rf"\1\2{REDACTED}"),
    # squad tokens (app/auth.py), GitHub's token kinds, E2B's and OpenAI-style keys
    (re.compile(r"\b(?:sq_|gh[pousr]_|github_pat_|e2b_|sk-)[A-Za-z0-9_-]{8,}"), REDACTED),
    # a password inside a URL: scheme://user:password@host
    (re.compile(r"(://[^/\s:@]*:)[^/\s@]+@"), rf"\1{REDACTED}@"),
)

_started_with: Settings | None = None


def scrub_text(text: str, secrets: list[str]) -> str:
    text = redact(text, secrets)
    for pattern, replacement in CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(value: Any, secrets: list[str]) -> Any:
    """`value` (an event, or any part of it) with every secret taken out."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {key: FILTERED if names_a_secret(key, item) else scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, secrets) for item in value]
    return value


def names_a_secret(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(SECRET_KEY.search(key)) and value not in (None, "", [], {})


def request_tags(event: dict[str, Any]) -> dict[str, str]:
    """The request's method and route template (the transaction, never the raw path with its ids)."""
    request = event.get("request") or {}
    tags = {}
    if request.get("method"):
        tags["http.method"] = str(request["method"])
    if request and event.get("transaction"):
        tags["http.route"] = str(event["transaction"])
    return tags


def before_send_for(settings: Settings) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    secrets = settings.secrets()

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("tags", {}).update(request_tags(event))
        scrubbed: dict[str, Any] = scrub(event, secrets)
        return scrubbed

    return before_send


def start(settings: Settings) -> bool:
    """Initialise the SDK when SENTRY_DSN is set (once per process); True when error tracking is on."""
    global _started_with
    dsn = settings.sentry_dsn.get_secret_value()
    if not dsn:
        return False
    if _started_with is settings:
        return True
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment,
        release=settings.sentry_release or None,
        # Errors only: performance data would come from the Prometheus metrics (app/metrics.py).
        traces_sample_rate=0.0,
        before_send=before_send_for(settings),  # type: ignore[arg-type]
        # Breadcrumbs repeat log lines and request details; the event's scrub covers them too.
        max_breadcrumbs=50,
        integrations=[
            StarletteIntegration(transaction_style="url"),
            FastApiIntegration(transaction_style="url"),
            LoggingIntegration(),
        ],
    )
    _started_with = settings
    return True


def stop() -> None:
    """Send what is queued and turn error tracking off (tests, and a process on its way out)."""
    global _started_with
    client = sentry_sdk.get_client()
    if client.is_active():
        client.flush(timeout=5)
        client.close(timeout=5)
    sentry_sdk.get_global_scope().set_client(None)
    _started_with = None


@contextlib.contextmanager
def task_scope(**tags: str | int | None) -> Iterator[None]:
    """Run a job with tags of its own on the events it reports (an isolation scope per job, since one
    worker runs many jobs at once on one event loop)."""
    with sentry_sdk.isolation_scope() as scope:
        for name, value in tags.items():
            if value is not None:
                scope.set_tag(name, str(value))
        scope.set_context("task", {name: value for name, value in tags.items() if value is not None})
        yield


def tag(**tags: str | int | None) -> None:
    """Add tags to the current scope's events (a request's, or a job's inside `task_scope`)."""
    for name, value in tags.items():
        if value is not None:
            sentry_sdk.set_tag(name, str(value))
