"""<sandbox-status>: the badge shows every sandbox state by name."""

import pytest
from playwright.sync_api import expect

SANDBOX_STATES = ["creating", "ready", "running", "pushing", "done", "failed"]


@pytest.mark.unit
@pytest.mark.priority_p1
@pytest.mark.parametrize("state", SANDBOX_STATES)
def test_sandbox_status_shows_each_state(mount, state):
    page = mount("<sandbox-status></sandbox-status>", "sandbox-status.js")
    badge = page.locator("sandbox-status")

    badge.evaluate("(el, state) => el.setAttribute('status', state)", state)

    expect(badge).to_have_attribute("data-status", state)
    expect(badge).to_have_text(state)
    expect(page.get_by_role("status", name=f"Sandbox: {state}")).to_be_visible()


@pytest.mark.unit
@pytest.mark.priority_p2
def test_sandbox_status_without_a_sandbox_or_with_an_unknown_state_says_so(mount):
    page = mount(
        '<sandbox-status id="idle"></sandbox-status><sandbox-status id="odd" status="teleporting"></sandbox-status>',
        "sandbox-status.js",
    )

    expect(page.locator("#idle")).to_have_attribute("data-status", "none")
    expect(page.locator("#idle")).to_have_text("no sandbox")
    expect(page.locator("#odd")).to_have_attribute("data-status", "unknown")
