"""Board flows: a real browser on the board of a fresh squad in the live stack."""

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Page

from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.squads import FinishedTask, SquadFactory
from frontend_tests.flows.pipeline import FaultRules
from frontend_tests.pages.board import BoardPage


@pytest.fixture
def squads(squads: SquadFactory) -> Iterator[SquadFactory]:
    """The shared factory (and so `new_squad`); at the end of the test, it waits until the pipelines of
    its squads are over."""
    yield squads
    squads.settle()


@pytest.fixture(scope="session")
def finished_tasks(
    platform: PlatformClient, fake_github_admin: FakeGitHubAdmin, base_url: str
) -> Iterator[dict[str, FinishedTask]]:
    """Two squads with one finished task each: "review" (pipeline succeeded) and "failed" (its
    repository does not exist). Made once per session; tests only read them."""
    factory = SquadFactory(platform, fake_github_admin, base_url)
    try:
        finished = {
            "review": factory.run_task(factory()),
            "failed": factory.run_task(factory(with_repository=False)),
        }
        for status, run in finished.items():
            assert run.task["status"] == status, f"expected a task in {status}, got {run.task}"
        yield finished
    finally:
        factory.close()


@pytest.fixture(params=["review", "failed"])
def finished_task(request: pytest.FixtureRequest, finished_tasks: dict[str, FinishedTask]) -> FinishedTask:
    """Each of the finished tasks in turn (the test runs once per final status)."""
    return finished_tasks[request.param]


@pytest.fixture
def github_faults(fake_github_admin: FakeGitHubAdmin) -> Iterator[FaultRules]:
    rules = FaultRules(fake_github_admin)
    yield rules
    rules.remove_unused()


@pytest.fixture
def board(page: Page, base_url: str) -> Iterator[BoardPage]:
    """The board in this test's page; an uncaught error in the board's scripts fails the test."""
    board = BoardPage(page, base_url)
    yield board
    assert not board.page_errors, f"the board threw in the page: {board.page_errors}"


@pytest.fixture
def colleague(new_context: Callable[..., BrowserContext], base_url: str) -> BoardPage:
    """The board in a browser context of its own: a second person, who opens the same squad's board."""
    return BoardPage(new_context().new_page(), base_url)
