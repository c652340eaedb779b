"""Board flows: a real browser on the board of a fresh squad in the live stack."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.plugin import SquadContext
from frontend_tests.flows.squads import FaultRules, FinishedTask, SquadMaker
from frontend_tests.pages.board import BoardPage


@pytest.fixture
def squads(platform: PlatformClient, fake_github_admin: FakeGitHubAdmin, base_url: str) -> Iterator[SquadMaker]:
    """Makes squads for this test; at its end, waits until their pipelines are over."""
    maker = SquadMaker(platform, fake_github_admin, base_url)
    try:
        yield maker
        maker.settle()
    finally:
        maker.close()


@pytest.fixture
def new_squad(squads: SquadMaker) -> SquadContext:
    """The shared fixture's squad (a repository, the squad, one agent), made through `squads`."""
    return squads()


@pytest.fixture(scope="session")
def finished_tasks(
    platform: PlatformClient, fake_github_admin: FakeGitHubAdmin, base_url: str
) -> Iterator[dict[str, FinishedTask]]:
    """Two squads with one finished task each: "review" (pipeline succeeded) and "failed" (its
    repository does not exist). Made once per session; tests only read them."""
    maker = SquadMaker(platform, fake_github_admin, base_url)
    try:
        finished = {
            "review": maker.run_task(maker()),
            "failed": maker.run_task(maker(with_repository=False)),
        }
        for status, run in finished.items():
            assert run.task["status"] == status, f"expected a task in {status}, got {run.task}"
        yield finished
    finally:
        maker.close()


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
