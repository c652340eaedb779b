"""A task whose pipeline fails: the board moves it to Failed and says why."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from fixtures import factories
from fixtures.platform_client import PlatformClient
from fixtures.plugin import SquadContext
from frontend_tests.pages.board import BoardPage

PIPELINE_TIMEOUT_MS = 45_000


@pytest.fixture
def squad_without_repository(platform: PlatformClient) -> Iterator[SquadContext]:
    """A squad whose repository does not exist in the fake GitHub: its pipeline fails on its own.

    The failure belongs to this squad alone; a fault rule on the fake would be shared by every
    pipeline running in the stack at the time."""
    squad = platform.create_squad(**factories.squad_data())
    client = platform.as_squad(squad["token"])
    agent = client.create_agent(**factories.agent_data())
    yield SquadContext(squad=squad, token=squad["token"], agent=agent, client=client, repository={})
    client.close()


@pytest.mark.e2e
@pytest.mark.errors
@pytest.mark.priority_p1
def test_a_failing_pipeline_moves_the_card_to_failed_with_an_error_toast(
    board: BoardPage, squad_without_repository: SquadContext
):
    squad = squad_without_repository
    task = squad.client.create_task(**factories.task_data())
    board.open(squad.squad["id"], squad.token)
    card = board.card(task["id"])

    card.drag_to(board.column("in_progress"))

    expect(board.column("failed").locator(card)).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)
    reason = squad.client.get_task(task["id"])["error"]
    assert reason, "the failed task has no error to show"
    expect(card.get_by_test_id("task-error")).to_have_text(reason)
    expect(board.page.get_by_role("alert").filter(has_text=task["title"])).to_contain_text(reason)
    expect(card.locator("sandbox-status")).to_have_attribute("data-status", "failed")
    expect(card.get_by_test_id("pr-link")).to_be_hidden()
