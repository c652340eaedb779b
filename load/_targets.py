"""Where the load suite points: the same environment variables and defaults as every other suite.

The platform is SQUAD_BASE_URL (default http://127.0.0.1:8000, the `make up` port); `--host` or
LOCUST_HOST override it. The fake GitHub, where each user creates its repository, is FAKE_GITHUB_URL;
the fake E2B, whose latency the suite sets (load/_fakes.py), is FAKE_E2B_URL.
"""

import os

DEFAULT_PLATFORM_URL = "http://127.0.0.1:8000"
DEFAULT_FAKE_E2B_URL = "http://127.0.0.1:8001"
DEFAULT_FAKE_GITHUB_URL = "http://127.0.0.1:8002"


def platform_url() -> str:
    return (os.environ.get("SQUAD_BASE_URL") or DEFAULT_PLATFORM_URL).rstrip("/")


def fake_github_url() -> str:
    return (os.environ.get("FAKE_GITHUB_URL") or DEFAULT_FAKE_GITHUB_URL).rstrip("/")


def fake_e2b_url() -> str:
    return (os.environ.get("FAKE_E2B_URL") or DEFAULT_FAKE_E2B_URL).rstrip("/")
