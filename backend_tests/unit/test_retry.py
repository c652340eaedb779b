"""RetryPolicy and with_retries (app/services/retry.py): capped exponential backoff with jitter, only transient
failures retried, the wait a service asks for honoured up to a cap; the settings a policy refuses, and the
moments services name read and shown in UTC."""

import email.utils
import random
import time
from collections.abc import Iterator

import pytest

from app.services.errors import GitHubError, SandboxError, ServiceError
from app.services.retry import RetryPolicy, format_moment, parse_retry_after, seconds_until, with_retries

pytestmark = pytest.mark.unit


class Script:
    """A call that fails with the scripted errors, then returns "done"; counts its calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def transient(message: str = "E2B had a server error (HTTP 503)", retry_after: float | None = None) -> SandboxError:
    return SandboxError(message, transient=True, retry_after=retry_after)


def policy(sleeps, **options) -> RetryPolicy:
    return RetryPolicy(**{"attempts": 4, "base_delay_s": 0.001, "max_delay_s": 0.004, "sleep": sleeps, **options})


@pytest.mark.priority_p0
def test_backoff_doubles_from_the_base_delay_and_stops_at_the_cap():
    no_jitter = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0, jitter=0)

    assert [no_jitter.backoff(attempt) for attempt in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


@pytest.mark.priority_p1
@pytest.mark.parametrize(("draw", "expected"), [(0.0, 0.8), (0.5, 0.6), (1.0, 0.4)])
def test_jitter_takes_a_random_share_of_at_most_its_fraction_off_the_backoff(draw, expected):
    jittered = RetryPolicy(base_delay_s=0.1, max_delay_s=1.0, jitter=0.5, random=lambda: draw)

    assert jittered.backoff(4) == pytest.approx(expected)


@pytest.mark.priority_p1
def test_jittered_waits_spread_between_half_the_backoff_and_the_backoff():
    rng = random.Random(4)
    jittered = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, random=rng.random)

    waits = [jittered.backoff(3) for _ in range(200)]

    assert all(2.0 <= wait <= 4.0 for wait in waits), (min(waits), max(waits))
    assert max(waits) - min(waits) > 1.0, "the waits do not spread: no jitter"


@pytest.mark.priority_p0
async def test_a_transient_failure_is_retried_until_the_call_succeeds(sleeps):
    call = Script(transient(), transient())

    assert await with_retries(call, policy(sleeps)) == "done"

    assert call.calls == 3
    assert len(sleeps.waits) == 2 and all(0 < wait <= 0.004 for wait in sleeps.waits), sleeps.waits


@pytest.mark.priority_p0
async def test_a_permanent_failure_is_raised_at_once_without_waiting(sleeps):
    refused = SandboxError("E2B refused the API key (HTTP 401)")
    call = Script(refused)

    with pytest.raises(SandboxError) as raised:
        await with_retries(call, policy(sleeps))

    assert raised.value is refused and call.calls == 1 and sleeps.waits == []
    assert raised.value.message == "E2B refused the API key (HTTP 401)"


@pytest.mark.priority_p1
async def test_an_exception_that_is_not_a_service_error_is_not_retried(sleeps):
    call = Script(KeyError("sandboxID"))

    with pytest.raises(KeyError):
        await with_retries(call, policy(sleeps))

    assert call.calls == 1 and sleeps.waits == []


@pytest.mark.priority_p0
async def test_retries_stop_after_the_policys_attempts_and_the_message_says_so(sleeps):
    call = Script(*(transient() for _ in range(10)))

    with pytest.raises(SandboxError) as raised:
        await with_retries(call, policy(sleeps, attempts=3))

    assert call.calls == 3 and len(sleeps.waits) == 2
    assert raised.value.message == "E2B had a server error (HTTP 503) (gave up after 3 attempts)"
    assert str(raised.value) == raised.value.message
    assert raised.value.attempts == 3 and raised.value.retries_exhausted


@pytest.mark.priority_p2
async def test_a_single_attempt_policy_raises_the_failure_unchanged(sleeps):
    call = Script(transient())

    with pytest.raises(SandboxError) as raised:
        await with_retries(call, policy(sleeps, attempts=1))

    assert raised.value.message == "E2B had a server error (HTTP 503)" and call.calls == 1


@pytest.mark.priority_p0
async def test_the_wait_a_service_asks_for_replaces_the_backoff(sleeps):
    call = Script(transient(retry_after=7.5))

    assert await with_retries(call, policy(sleeps, max_retry_after_s=60)) == "done"

    assert sleeps.waits == [7.5]


@pytest.mark.priority_p0
async def test_a_wait_longer_than_the_cap_fails_at_once_with_a_clear_message(sleeps):
    limited = GitHubError("GitHub's secondary rate limit", transient=True, retry_after=3600)
    call = Script(limited)

    with pytest.raises(GitHubError) as raised:
        await with_retries(call, policy(sleeps, max_retry_after_s=60))

    assert call.calls == 1 and sleeps.waits == []
    assert raised.value.message == (
        "GitHub's secondary rate limit (GitHub asked to wait 3600 s before retrying, longer than the 60 s this "
        "platform waits (max_retry_after_s); try again later)"
    )


@pytest.mark.priority_p1
async def test_a_failure_an_inner_retry_loop_gave_up_on_is_not_retried_again(sleeps):
    inner_call = Script(*(transient() for _ in range(10)))

    async def outer_call() -> str:
        return await with_retries(inner_call, policy(sleeps, attempts=2))

    with pytest.raises(SandboxError):
        await with_retries(outer_call, policy(sleeps, attempts=3))

    assert inner_call.calls == 2, "the outer loop multiplied the inner loop's attempts"


@pytest.mark.priority_p2
@pytest.mark.parametrize(
    "options",
    [{"attempts": 0}, {"base_delay_s": -1}, {"max_delay_s": -1}, {"max_retry_after_s": -1}, {"jitter": 1.5}],
    ids=["attempts", "base_delay", "max_delay", "max_retry_after", "jitter"],
)
def test_a_policy_with_impossible_settings_is_refused(options):
    with pytest.raises(ValueError):
        RetryPolicy(**options)


@pytest.mark.priority_p2
def test_a_negative_retry_after_means_no_wait():
    assert RetryPolicy().delay(1, ServiceError("x", transient=True, retry_after=-5)) == 0.0


NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW + 45), 45.0),  # numeric zone "-0000": a naive date, read as UTC
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
    ids=["seconds", "fraction", "negative", "http-date", "http-date-naive", "past-date", "garbage", "empty", "absent"],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("header", "expected"),
    [(str(int(NOW) + 90), 90.0), (str(int(NOW) - 5), 0.0), ("tomorrow", None), (None, None)],
    ids=["future", "past", "garbage", "absent"],
)
def test_ratelimit_reset_is_read_as_the_wait_until_that_epoch_second(header, expected):
    assert seconds_until(header, now=NOW) == expected


@pytest.mark.priority_p2
def test_the_time_defaults_to_now():
    assert parse_retry_after(email.utils.formatdate(usegmt=True)) == pytest.approx(0, abs=1)
    assert seconds_until("0") == 0.0


@pytest.mark.priority_p1
async def test_a_wait_over_the_cap_gives_up_at_the_first_attempt_and_an_outer_loop_does_not_retry(sleeps):
    """The give-up records the attempts made, so an outer retry loop leaves it alone."""
    inner_call = Script(*(GitHubError("secondary rate limit", transient=True, retry_after=3600) for _ in range(5)))

    async def outer_call() -> str:
        return await with_retries(inner_call, policy(sleeps, attempts=3, max_retry_after_s=60))

    with pytest.raises(GitHubError) as raised:
        await with_retries(outer_call, policy(sleeps, attempts=3))

    assert raised.value.attempts == 1, f"expected the give-up to record 1 attempt, got {raised.value.attempts}"
    assert inner_call.calls == 1, f"the outer loop retried a failure the inner loop gave up on: {inner_call.calls}"


# -- impossible settings --------------------------------------------------------------------------------------
# RetryPolicy refuses impossible settings with a message naming the setting, and accepts the edges.


@pytest.mark.priority_p2
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"base_delay_s": -0.5}, "delays must not be negative"),
        ({"max_delay_s": -0.5}, "delays must not be negative"),
        ({"max_retry_after_s": -0.5}, "delays must not be negative"),
        ({"jitter": -0.1}, "jitter must be between 0 and 1"),
        ({"jitter": 1.01}, "jitter must be between 0 and 1"),
    ],
    ids=["attempts", "base-delay", "max-delay", "max-retry-after", "jitter-below", "jitter-above"],
)
def test_an_impossible_setting_is_refused_with_a_message_naming_it(options, message):
    with pytest.raises(ValueError) as raised:
        RetryPolicy(**options)

    assert str(raised.value) == message, f"expected {message!r}, got {str(raised.value)!r}"


@pytest.mark.priority_p2
def test_zero_delays_are_allowed_and_mean_no_wait():
    no_wait = RetryPolicy(base_delay_s=0, max_delay_s=0, max_retry_after_s=0, jitter=0)

    assert no_wait.backoff(1) == 0.0


@pytest.mark.priority_p2
def test_full_jitter_is_allowed_and_can_take_the_whole_backoff_off():
    full = RetryPolicy(base_delay_s=1.0, max_delay_s=1.0, jitter=1, random=lambda: 1.0)

    assert full.backoff(1) == 0.0


@pytest.mark.priority_p2
def test_a_single_attempt_is_allowed():
    assert RetryPolicy(attempts=1).attempts == 1


# -- moments in UTC -------------------------------------------------------------------------------------------
# Moments from services are read and shown in UTC, whatever time zone the machine runs in.
#
# The machine's zone is set to India's (UTC+05:30, a POSIX rule, so no tz database is needed) for each
# test of this section: on a machine in UTC a date read as local time would look right by accident.


@pytest.fixture
def machine_in_india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.priority_p1
@pytest.mark.usefixtures("machine_in_india")
def test_an_http_date_with_a_numeric_zone_is_read_as_utc_not_local_time():
    header = email.utils.formatdate(NOW + 45)  # "... -0000": parsed as a naive datetime

    assert parse_retry_after(header, now=NOW) == 45.0


@pytest.mark.priority_p1
@pytest.mark.usefixtures("machine_in_india")
def test_an_http_date_in_gmt_is_read_as_utc():
    assert parse_retry_after(email.utils.formatdate(NOW + 45, usegmt=True), now=NOW) == 45.0


@pytest.mark.priority_p1
@pytest.mark.usefixtures("machine_in_india")
def test_a_reset_moment_is_shown_in_utc():
    assert format_moment(NOW) == "22:13:20 UTC"
