"""<toast-region>: errors are announced with their reason, notifications carry their link, and every
toast stays until dismissed."""

import pytest
from playwright.sync_api import expect

from frontend_tests.pages.accessibility import assert_no_serious_violations


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


@pytest.mark.unit
@pytest.mark.priority_p1
def test_notification_toast_carries_its_link_and_toasts_are_dismissed_one_by_one_from_the_keyboard(mount):
    page = mount("<toast-region></toast-region>", "toast-region.js")
    region = page.locator("toast-region")
    url = "http://127.0.0.1:9/acme/widgets/pull/7"

    region.evaluate(
        """(el, url) => {
            el.notify({ title: 'Pull request opened', message: 'ready for review',
                        link: { href: url, text: 'Open pull request #7' } });
            el.error('clone failed: repository not found', 'Task failed');
        }""",
        url,
    )

    notification = page.get_by_role("status").filter(has_text="Pull request opened")
    expect(notification.get_by_role("link", name="Open pull request #7")).to_have_attribute("href", url)
    expect(page.get_by_test_id("toast")).to_have_count(2)
    assert_no_serious_violations(page, "a notification and an error toast")

    page.get_by_role("button", name="Dismiss: Task failed").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("alert")).to_have_count(0)
    expect(notification).to_be_visible()
    page.get_by_role("button", name="Dismiss: Pull request opened").press("Space")
    expect(page.get_by_test_id("toast")).to_have_count(0)
