"""The task list comes in pages: `limit` (100 by default, at most 500) and an opaque `cursor`; a
`Link: <...>; rel="next"` header names the next page while there is one. Following the links lists
every task once, oldest first, with the filters kept, even while tasks are being added."""

import base64
from datetime import timedelta

import httpx
import pytest

from app.api.tasks import PAGE_DEFAULT, PAGE_MAX
from app.models import Task, utcnow

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


def next_url(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link["url"] if link else None


async def every_page(squad, url: str = "/api/v1/tasks", **params: str) -> list[list[dict]]:
    pages = []
    response = await squad.call("GET", url, params=params or None)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        following = next_url(response)
        if following is None:
            return pages
        response = await squad.call("GET", following)


async def store_tasks(db_session, squad_id: str, count: int, **fields) -> list[str]:
    """Tasks straight into the database (hundreds through the API would only slow the test), a
    microsecond apart, oldest first."""
    start = utcnow()
    tasks = [
        Task(squad_id=squad_id, title=f"task {n}", created_at=start + timedelta(microseconds=n), **fields)
        for n in range(count)
    ]
    db_session.add_all(tasks)
    await db_session.commit()
    return [task.id for task in tasks]


async def test_by_default_a_page_holds_a_hundred_and_links_to_the_next(api_squad, db_session):
    ids = await store_tasks(db_session, api_squad.id, PAGE_DEFAULT + 1)

    first = await api_squad.call("GET", "/api/v1/tasks")
    second = await api_squad.call("GET", next_url(first))

    assert [task["id"] for task in first.json()] == ids[:PAGE_DEFAULT]
    assert first.headers["link"].endswith('>; rel="next"')
    assert [task["id"] for task in second.json()] == ids[PAGE_DEFAULT:]
    assert "link" not in second.headers, "the last page links to nothing"


async def test_following_the_links_lists_every_task_once_in_creation_order(api_squad, db_session):
    ids = await store_tasks(db_session, api_squad.id, 23)

    pages = await every_page(api_squad, limit="5")

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [task["id"] for page in pages for task in page] == ids


async def test_tasks_with_the_same_creation_time_are_ordered_by_id_and_never_split_or_repeated(api_squad, db_session):
    moment = utcnow()
    tied = [Task(squad_id=api_squad.id, title=f"tied {n}", created_at=moment) for n in range(7)]
    db_session.add_all(tied)
    await db_session.commit()

    pages = await every_page(api_squad, limit="3")

    assert [task["id"] for page in pages for task in page] == sorted(task.id for task in tied)


async def test_the_filters_are_kept_from_page_to_page(api_squad, db_session):
    await store_tasks(db_session, api_squad.id, 6, status="todo")
    failed = await store_tasks(db_session, api_squad.id, 5, status="failed")

    pages = await every_page(api_squad, limit="2", status="failed")

    assert [task["id"] for page in pages for task in page] == failed


async def test_a_task_added_while_paging_comes_at_the_end_and_none_is_lost(api_squad, db_session):
    ids = await store_tasks(db_session, api_squad.id, 4)
    first = await api_squad.call("GET", "/api/v1/tasks", params={"limit": "2"})
    added = await api_squad.new_task()

    rest = [task["id"] for page in await every_page(api_squad, next_url(first)) for task in page]

    assert [task["id"] for task in first.json()] + rest == [*ids, added["id"]]


@pytest.mark.parametrize("limit", ["0", "-1", str(PAGE_MAX + 1), "ten", "1e2"])
async def test_a_limit_outside_one_to_the_maximum_is_422(api_squad, limit):
    response = await api_squad.call("GET", "/api/v1/tasks", params={"limit": limit})

    assert response.status_code == 422, response.text


async def test_the_largest_page_is_the_maximum(api_squad, db_session):
    await store_tasks(db_session, api_squad.id, PAGE_MAX + 2)

    response = await api_squad.call("GET", "/api/v1/tasks", params={"limit": str(PAGE_MAX)})

    assert len(response.json()) == PAGE_MAX and next_url(response)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        b64("not a time|abc"),
        b64("2024-01-01T00:00:00|abc"),  # no time zone: not one this API made
        b64("2024-01-01T00:00:00+00:00|../../etc"),
        b64("2024-01-01T00:00:00+00:00|' OR 1=1 --"),
        b64("2024-01-01T00:00:00+00:00"),
        "\u0430" * 10,
    ],
    ids=["garbage", "percent", "no-time", "naive-time", "path-id", "sql-id", "no-id", "cyrillic"],
)
async def test_a_cursor_this_api_did_not_give_is_400(api_squad, cursor):
    response = await api_squad.call("GET", "/api/v1/tasks", params={"cursor": cursor})

    assert response.status_code == 400, response.text
    assert "cursor" in response.json()["detail"]


async def test_another_squads_cursor_shows_only_the_callers_own_tasks(api_squad, other_squad, db_session):
    theirs = await store_tasks(db_session, other_squad.id, 4)
    mine = await store_tasks(db_session, api_squad.id, 4)
    their_page = await other_squad.call("GET", "/api/v1/tasks", params={"limit": "2"})

    with_their_cursor = await api_squad.call("GET", next_url(their_page))

    shown = {task["id"] for task in with_their_cursor.json()}
    assert shown <= set(mine) and not shown & set(theirs)
