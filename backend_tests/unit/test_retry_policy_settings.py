"""RetryPolicy refuses impossible settings with a message naming the setting, and accepts the edges."""

import pytest

from app.services.retry import RetryPolicy

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


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


def test_zero_delays_are_allowed_and_mean_no_wait():
    no_wait = RetryPolicy(base_delay_s=0, max_delay_s=0, max_retry_after_s=0, jitter=0)

    assert no_wait.backoff(1) == 0.0


def test_full_jitter_is_allowed_and_can_take_the_whole_backoff_off():
    full = RetryPolicy(base_delay_s=1.0, max_delay_s=1.0, jitter=1, random=lambda: 1.0)

    assert full.backoff(1) == 0.0


def test_a_single_attempt_is_allowed():
    assert RetryPolicy(attempts=1).attempts == 1
