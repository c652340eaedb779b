"""<toast-region>: errors are announced with their reason and stay until dismissed."""

import pytest
from playwright.sync_api import expect


@pytest.mark.unit
@pytest.mark.priority_p1
def test_error_toast_shows_the_reason_as_an_alert_until_dismissed(mount):
    page = mount("<toast-region></toast-region>", "toast-region.js")

    page.locator("toast-region").evaluate(
        "el => el.error('git push rejected: <b>permission</b> denied (403)', 'Task failed')"
    )

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Task failed")
    expect(alert.get_by_test_id("toast-message")).to_have_text("git push rejected: <b>permission</b> denied (403)")
    expect(page.get_by_role("region", name="Notifications")).to_be_visible()

    alert.get_by_role("button", name="Dismiss: Task failed").click()

    expect(page.get_by_role("alert")).to_have_count(0)
