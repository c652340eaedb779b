"""`python -m mocks.e2b --host 127.0.0.1 --port 8001`

Env: FAKE_E2B_API_KEYS (comma separated keys accepted; default e2b_000...0),
FAKE_E2B_LATENCY_MS (added to every request), FAKE_E2B_MAX_CONCURRENT (sandbox quota, default 20).

Sandboxes need bubblewrap and user namespaces (mocks/e2b/isolation.py): where they cannot be made,
the fake says why and how to fix it, and exits with status 3 before it listens.
"""

from __future__ import annotations

import sys

from mocks.common.server import keys_from_environment, main, number_from_environment
from mocks.e2b.app import build_app
from mocks.e2b.isolation import IsolationUnavailable
from mocks.e2b.state import DEFAULT_API_KEY, FakeE2B

EXIT_NO_SANDBOXES = 3


def fake_from_environment() -> FakeE2B:
    return FakeE2B(
        keys_from_environment("FAKE_E2B_API_KEYS", DEFAULT_API_KEY),
        latency_ms=number_from_environment("FAKE_E2B_LATENCY_MS"),
        max_concurrent=number_from_environment("FAKE_E2B_MAX_CONCURRENT", 20),
    )


def serve(fake: FakeE2B) -> None:
    try:
        main("E2B", lambda url: build_app(fake), default_port=8001)
    finally:
        fake.close()  # kills every sandbox (all their processes), deletes their files


if __name__ == "__main__":
    try:
        fake = fake_from_environment()
    except IsolationUnavailable as error:
        print(f"fake E2B: {error}", file=sys.stderr)
        sys.exit(EXIT_NO_SANDBOXES)
    serve(fake)
