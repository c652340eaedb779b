"""Fake of Sentry's ingest: the envelope endpoint error trackers send their events to.

An SDK configured with the fake's DSN (`fake.dsn(server.url)`) posts envelopes to
`POST /api/{project_id}/envelope/`; the fake checks the key (the `X-Sentry-Auth` header or the
`sentry_key` query parameter), parses the envelope as Relay does and keeps it, raw bytes included, so
a test can read what left the process exactly as it left::

    from mocks.sentry import FakeSentry

    fake = FakeSentry()
    server = serve_in_thread(build_app(fake))
    sentry_sdk.init(dsn=fake.dsn(server.url))
    ...
    assert fake.events()[0]["exception"]["values"][0]["type"] == "RuntimeError"
    assert secret.encode() not in b"".join(fake.raw_envelopes())
"""

from mocks.sentry.state import DEFAULT_PROJECT_ID, DEFAULT_PUBLIC_KEY, Envelope, EnvelopeItem, FakeSentry, SentryError

__all__ = ["DEFAULT_PROJECT_ID", "DEFAULT_PUBLIC_KEY", "Envelope", "EnvelopeItem", "FakeSentry", "SentryError"]
