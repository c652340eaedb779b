"""<sandbox-status>: the badge shows every sandbox state by name."""

import pytest
from playwright.sync_api import expect

from frontend_tests.pages.accessibility import assert_no_serious_violations

SANDBOX_STATES = ["creating", "ready", "running", "pushing", "done", "failed"]


@pytest.mark.unit
@pytest.mark.priority_p1
def test_sandbox_status_shows_each_state_by_name(mount):
    badges = "".join(f'<sandbox-status id="{state}"></sandbox-status>' for state in SANDBOX_STATES)
    page = mount(badges, "sandbox-status.js")

    for state in SANDBOX_STATES:
        page.locator(f"#{state}").evaluate("(el, state) => { el.status = state; }", state)

    for state in SANDBOX_STATES:
        badge = page.locator(f"#{state}")
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


@pytest.mark.unit
@pytest.mark.priority_p1
def test_every_sandbox_state_badge_is_readable_without_serious_accessibility_violation(mount):
    badges = "".join(f'<sandbox-status status="{state}"></sandbox-status>' for state in SANDBOX_STATES)
    page = mount(badges + "<sandbox-status></sandbox-status>", "sandbox-status.js")
    expect(page.locator("sandbox-status")).to_have_text([*SANDBOX_STATES, "no sandbox"])

    # Colour contrast of each state's colours among the rest.
    assert_no_serious_violations(page, "the sandbox badges in every state")
