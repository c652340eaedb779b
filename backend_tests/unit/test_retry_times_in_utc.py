"""Moments from services are read and shown in UTC, whatever time zone the machine runs in.

The machine's zone is set to India's (UTC+05:30, a POSIX rule, so no tz database is needed) for each
test: on a machine in UTC a date read as local time would look right by accident.
"""

import email.utils
import time
from collections.abc import Iterator

import pytest

from app.services.retry import format_moment, parse_retry_after

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def machine_in_india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_http_date_with_a_numeric_zone_is_read_as_utc_not_local_time():
    header = email.utils.formatdate(NOW + 45)  # "... -0000": parsed as a naive datetime

    assert parse_retry_after(header, now=NOW) == 45.0


def test_an_http_date_in_gmt_is_read_as_utc():
    assert parse_retry_after(email.utils.formatdate(NOW + 45, usegmt=True), now=NOW) == 45.0


def test_a_reset_moment_is_shown_in_utc():
    assert format_moment(NOW) == "22:13:20 UTC"
