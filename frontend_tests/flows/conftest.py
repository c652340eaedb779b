"""Board flows: a real browser on the board of a fresh squad in the live stack."""

import pytest
from playwright.sync_api import Page

from frontend_tests.pages.board import BoardPage


@pytest.fixture
def board(page: Page, base_url: str) -> BoardPage:
    return BoardPage(page, base_url)
