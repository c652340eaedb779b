"""`python -m mocks.github --host 127.0.0.1 --port 8002`

Env: FAKE_GITHUB_TOKENS (comma separated tokens accepted; default ghp_fake_token),
FAKE_GITHUB_LATENCY_MS (added to every request), FAKE_GITHUB_CONTENT_CREATION_PER_MINUTE (pull requests,
reviews and comments one token may create a minute before the secondary rate limit; default 80, as
GitHub documents), FAKE_GITHUB_PUBLIC_URL (the base URL put in clone_url,
for containers that reach this server by another name; default: the URL it listens on, or, when it
listens on 0.0.0.0, the URL each request came to).
"""

from __future__ import annotations

import os

from mocks.common.server import keys_from_environment, main, number_from_environment
from mocks.github.app import build_app
from mocks.github.rate_limits import CONTENT_CREATION_PER_MINUTE
from mocks.github.state import DEFAULT_TOKEN, FakeGitHub


def fake_from_environment() -> FakeGitHub:
    return FakeGitHub(
        keys_from_environment("FAKE_GITHUB_TOKENS", DEFAULT_TOKEN),
        latency_ms=number_from_environment("FAKE_GITHUB_LATENCY_MS"),
        content_creation_per_minute=number_from_environment(
            "FAKE_GITHUB_CONTENT_CREATION_PER_MINUTE", CONTENT_CREATION_PER_MINUTE
        ),
    )


def serve(fake: FakeGitHub) -> None:
    def app_listening_on(url: str):
        # clone_url must name an address git can reach, whatever Host the API request used.
        public_url = os.environ.get("FAKE_GITHUB_PUBLIC_URL") or (None if "//0.0.0.0:" in url else url)
        fake.git_base_url = public_url.rstrip("/") if public_url else None
        return build_app(fake)

    try:
        main("GitHub", app_listening_on, default_port=8002)
    finally:
        fake.close()  # deletes the bare repositories


if __name__ == "__main__":
    serve(fake_from_environment())  # a bad variable fails here, before the port is taken
