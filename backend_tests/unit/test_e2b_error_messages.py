"""What an E2B or envd refusal turns into: which statuses are worth a retry, the wait they ask for, and a
message that quotes the service's own words (cut to a readable length) and says what to do."""

import pytest

from app.services.errors import CommandFailed, SandboxError, SandboxQuotaExceeded

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


async def test_envd_answering_500_is_retried_and_reported_as_the_sandbox_unavailable(
    sandboxes, sandbox, fake_e2b, e2b_routes
):
    fake_e2b.add_fault("process_start", 500, body="envd fell over")

    with pytest.raises(SandboxError) as raised:
        await sandboxes.run(sandbox, "echo hi")

    assert raised.value.transient and e2b_routes["process_start"].call_count == 3
    assert raised.value.message == (
        f"running a command in sandbox {sandbox.sandbox_id} failed: the sandbox is unavailable "
        "(HTTP 500: envd fell over) (gave up after 3 attempts)"
    )


async def test_envd_asking_to_retry_after_a_wait_is_waited_for(sandboxes, sandbox, fake_e2b, sleeps):
    fake_e2b.add_fault("process_start", 503, headers={"Retry-After": "7"}, times=1)

    result = await sandboxes.run(sandbox, "echo ran")

    assert result.stdout == "ran\n"
    assert sleeps.waits == [7.0], f"expected the 7 s envd asked for, waited {sleeps.waits}"


async def test_the_quota_message_says_what_to_do(sandboxes, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 429, body={"code": 429, "message": "too many sandboxes"})

    with pytest.raises(SandboxQuotaExceeded) as raised:
        await sandboxes.create()

    assert raised.value.message == (
        "creating a sandbox failed: E2B's sandbox quota or rate limit is reached (HTTP 429: too many sandboxes); "
        "wait for running sandboxes to finish, or raise the account's limit (gave up after 3 attempts)"
    )


async def test_a_refusal_without_a_hint_ends_with_e2bs_words(sandboxes, sandbox, fake_e2b):
    fake_e2b.add_fault("kill_sandbox", 409, body={"code": 409, "message": "sandbox is busy"})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.destroy(sandbox.sandbox_id)

    assert raised.value.message == (
        f"destroying sandbox {sandbox.sandbox_id} failed: E2B refused the request (HTTP 409: sandbox is busy)"
    )


async def test_e2bs_words_are_cut_to_300_characters(sandboxes, fake_e2b):
    fake_e2b.add_fault("create_sandbox", 400, body="a" * 300 + "b" * 50)

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert "(HTTP 400: " + "a" * 300 + ")" in raised.value.message, raised.value.message
    assert "b" not in raised.value.message.split("(HTTP 400: ", 1)[1].split(")", 1)[0]


def test_a_failed_command_message_keeps_exactly_the_last_500_characters_of_the_output():
    output = "x" * 1000 + "y" * 499 + "\n"

    failed = CommandFailed("agent work", 2, output)

    assert failed.message == "agent work exited with code 2: " + "x" + "y" * 499


@pytest.mark.parametrize(
    ("status", "said", "hint"),
    [
        # The fake starts any template; E2B answers an unknown one with 404 (or 400 for a bad name).
        (404, "template not found", "; check E2B_TEMPLATE ('no-such-template')"),
        (400, "bad template name", "; check E2B_TEMPLATE ('no-such-template')"),
        (409, "too many sandboxes starting", ""),
    ],
)
async def test_a_refused_creation_names_e2b_template_only_when_the_template_may_be_wrong(
    make_sandboxes, fake_e2b, status, said, hint
):
    sandboxes = make_sandboxes(template="no-such-template")
    fake_e2b.add_fault("create_sandbox", status, body={"code": status, "message": said})

    with pytest.raises(SandboxError) as raised:
        await sandboxes.create()

    assert raised.value.message == f"creating a sandbox failed: E2B refused the request (HTTP {status}: {said}){hint}"
