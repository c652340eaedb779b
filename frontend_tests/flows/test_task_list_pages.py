"""The board of a squad with more tasks than one page of the task list shows every one of them: it
follows the list's `Link: <...>; rel="next"` headers (app/web/api.js)."""

import pytest
from playwright.sync_api import Request, expect

from fixtures import factories
from fixtures.squads import Squad
from frontend_tests.pages.board import BoardPage


def is_task_list(request: Request) -> bool:
    return request.method == "GET" and request.url.split("?")[0].endswith("/api/v1/tasks")


def default_page_size(squad: Squad) -> int:
    """The tasks a page of the list holds when the board names no `limit`, as the platform's OpenAPI
    document says: the browser suite imports nothing of app/ (a second of start-up in every process,
    and the platform under test may be a deployment of another version)."""
    document = squad.call("GET", "/openapi.json").json()
    parameters = document["paths"]["/api/v1/tasks"]["get"]["parameters"]
    return next(parameter["schema"]["default"] for parameter in parameters if parameter["name"] == "limit")


@pytest.mark.e2e
@pytest.mark.priority_p1
def test_the_board_shows_every_task_of_a_squad_with_more_than_one_page(board: BoardPage, new_squad: Squad):
    made = [new_squad.client.create_task(**factories.task_data()) for _ in range(default_page_size(new_squad) + 3)]
    lists: list[Request] = []
    board.page.on("request", lambda request: lists.append(request) if is_task_list(request) else None)

    board.open(new_squad.squad["id"], new_squad.token)

    cards = board.column("todo").locator('[data-testid="task-card"]')
    expect(cards).to_have_count(len(made))
    expect(board.card(made[-1]["id"])).to_be_visible()
    assert len(lists) == 2, f"the board asked for {[request.url for request in lists]}"
    assert "cursor=" in lists[1].url, lists[1].url
