"""Where an event stream resumes: the Last-Event-ID header (ASCII digits, 0..2**63-1), else the
`last_event_id` query parameter, else the beginning; anything else is a 400 that says what is wrong."""

import pytest
from fastapi import HTTPException

from app.api.stream import MAX_EVENT_ID, _resume_point

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, 0),
        (None, 5, 5),
        ("7", None, 7),
        ("7", 3, 7),
        ("0", 9, 0),
        (str(MAX_EVENT_ID), None, MAX_EVENT_ID),
    ],
    ids=["nothing", "query-only", "header-only", "header-wins", "header-zero-wins", "largest-id"],
)
def test_the_stream_resumes_after_the_header_else_the_query_else_from_the_start(header, query, expected):
    assert _resume_point(header, query) == expected


@pytest.mark.parametrize(
    "header",
    ["abc", "-1", " 7", "+7", "7_0", "\u0663", ""],
    ids=["letters", "negative", "space", "plus", "underscore", "arabic-digit", "empty"],
)
def test_a_header_that_is_not_ascii_digits_is_400_asking_for_an_event_id(header):
    with pytest.raises(HTTPException) as raised:
        _resume_point(header, None)

    assert (raised.value.status_code, raised.value.detail) == (400, "Last-Event-ID must be an event id (an integer)")


@pytest.mark.parametrize(
    "header", [str(MAX_EVENT_ID + 1), "9" * 40, "9" * 5000], ids=["one-past", "forty-digits", "too-long-for-int"]
)
def test_a_header_past_the_largest_event_id_is_400_naming_the_range(header):
    with pytest.raises(HTTPException) as raised:
        _resume_point(header, 3)

    assert raised.value.status_code == 400
    assert raised.value.detail == f"Last-Event-ID must be between 0 and {MAX_EVENT_ID}"
