"""The output a /git endpoint answers with: git's chunks as they came, secrets removed, the last 4,000
characters kept (the end holds the reason)."""

from types import SimpleNamespace

import pytest

from app.api.git import _Output

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


def output_of(*secrets: str, envd_access_token: str | None = None) -> _Output:
    runtime = SimpleNamespace(settings=SimpleNamespace(secrets=lambda: list(secrets)))
    sandbox = SimpleNamespace(envd_access_token=envd_access_token)
    return _Output(runtime, sandbox)  # type: ignore[arg-type]


async def test_chunks_are_joined_as_git_printed_them():
    output = output_of()
    await output("stderr", "Cloning into 'repo'...\n")
    await output("stdout", "done")

    assert output.text() == "Cloning into 'repo'...\ndone"


async def test_only_the_last_4000_characters_are_kept():
    output = output_of()
    await output("stderr", "s")
    await output("stderr", "e" * 4000)

    assert output.text() == "e" * 4000


async def test_a_secret_in_the_output_is_replaced():
    output = output_of("ghp_canary")
    await output("stderr", "fatal: https://x-access-token:ghp_canary@github.com refused")

    assert output.text() == "fatal: https://x-access-token:***@github.com refused"


async def test_the_sandboxs_access_token_in_the_output_is_replaced():
    output = output_of("ghp_canary", envd_access_token="envd-token-of-the-sandbox")
    await output("stdout", "E2B_ACCESS_TOKEN=envd-token-of-the-sandbox\n")

    assert output.text() == "E2B_ACCESS_TOKEN=***\n"
