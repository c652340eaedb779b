"""`python -m mocks.llm --host 127.0.0.1 --port 8003`

Clients use the printed URL + "/v1" as their base URL (LLM_API_URL, the SDK's base_url).
Env: FAKE_LLM_API_KEYS (comma separated keys accepted; default sk-fake-llm-000...0),
FAKE_LLM_LATENCY_MS (added to every request, before the answer starts), FAKE_LLM_TIME_TO_FIRST_TOKEN_MS
and FAKE_LLM_PER_TOKEN_MS (how fast the model generates: before the first token, between tokens).
"""

from __future__ import annotations

from mocks.common.server import keys_from_environment, main, number_from_environment
from mocks.llm.app import build_app
from mocks.llm.state import DEFAULT_API_KEY, FakeLLM


def fake_from_environment() -> FakeLLM:
    return FakeLLM(
        keys_from_environment("FAKE_LLM_API_KEYS", DEFAULT_API_KEY),
        latency_ms=number_from_environment("FAKE_LLM_LATENCY_MS"),
        time_to_first_token_ms=number_from_environment("FAKE_LLM_TIME_TO_FIRST_TOKEN_MS"),
        per_token_ms=number_from_environment("FAKE_LLM_PER_TOKEN_MS"),
    )


if __name__ == "__main__":
    fake = fake_from_environment()  # a bad variable fails here, before the port is taken
    main("LLM", lambda url: build_app(fake), default_port=8003)
