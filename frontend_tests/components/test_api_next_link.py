"""app/web/api.js reads the task list's next page from its `Link` header as RFC 8288 writes it."""

import pytest

NEXT = "http://127.0.0.1:8000/api/v1/tasks?limit=100&cursor=abc"


@pytest.mark.unit
@pytest.mark.priority_p2
@pytest.mark.parametrize(
    ("header", "found"),
    [
        (f'<{NEXT}>; rel="next"', NEXT),
        (f"<{NEXT}>; rel=next", NEXT),
        (f'<{NEXT}>;rel="next"', NEXT),
        (f'<http://x/first>; rel="first", <{NEXT}>; rel="next"', NEXT),
        (f'<{NEXT}>; title="page two"; rel="prev next"', NEXT),
        (f'<{NEXT}>; REL="Next"', NEXT),
        ('<http://x/first>; rel="first"', None),
        (f'<{NEXT}>; rel="nextish"', None),
        ("", None),
        (None, None),
        ("not a link header", None),
    ],
)
def test_next_link_finds_the_next_page_and_nothing_else(mount, header, found):
    page = mount("")

    assert page.evaluate("async (header) => (await import('/web/api.js')).nextLink(header)", header) == found
