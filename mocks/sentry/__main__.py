"""`python -m mocks.sentry --host 127.0.0.1 --port 8004`

SDKs use `http://PUBLIC_KEY@HOST:PORT/PROJECT_ID` as their DSN (SENTRY_DSN). Env: FAKE_SENTRY_DSN_KEYS
(comma-separated public keys project 1 accepts; default mocks.sentry.DEFAULT_PUBLIC_KEY).
"""

from __future__ import annotations

import os

from mocks.common.server import main
from mocks.sentry.app import build_app
from mocks.sentry.state import DEFAULT_PROJECT_ID, DEFAULT_PUBLIC_KEY, FakeSentry


def fake_from_environment() -> FakeSentry:
    keys = os.environ.get("FAKE_SENTRY_DSN_KEYS", DEFAULT_PUBLIC_KEY)
    return FakeSentry({DEFAULT_PROJECT_ID: [key.strip() for key in keys.split(",") if key.strip()]})


if __name__ == "__main__":
    fake = fake_from_environment()
    main("Sentry", lambda url: build_app(fake), default_port=8004)
