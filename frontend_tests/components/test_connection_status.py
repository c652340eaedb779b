"""<connection-status>: whether the board's event stream is up, in words."""

import pytest
from playwright.sync_api import expect

from frontend_tests.pages.accessibility import assert_no_serious_violations

STATES = ["connecting", "live", "reconnecting"]


@pytest.mark.unit
@pytest.mark.priority_p1
def test_connection_status_names_each_state(mount):
    page = mount("<connection-status></connection-status>", "connection-status.js")
    indicator = page.locator("connection-status")

    for state in ["live", "reconnecting", "live", "connecting"]:
        indicator.evaluate("(el, state) => { el.state = state; }", state)

        expect(page.get_by_role("status", name=f"Event stream: {state}")).to_have_text(state)
        expect(indicator).to_have_attribute("data-state", state)


@pytest.mark.unit
@pytest.mark.priority_p2
def test_connection_status_shows_the_stream_position_in_its_tooltip_without_changing_its_text(mount):
    page = mount('<connection-status state="live"></connection-status>', "connection-status.js")
    indicator = page.locator("connection-status")
    expect(indicator).to_have_attribute("title", "Event stream: live, no event yet")

    indicator.evaluate("(el) => { el.lastEventId = 42; }")

    expect(indicator).to_have_attribute("data-last-event-id", "42")
    expect(indicator).to_have_attribute("title", "Event stream: live, at event 42")
    expect(indicator).to_have_text("live")


@pytest.mark.unit
@pytest.mark.priority_p2
def test_connection_status_treats_an_unknown_state_as_connecting(mount):
    page = mount('<connection-status state="teleporting"></connection-status>', "connection-status.js")

    expect(page.locator("connection-status")).to_have_attribute("data-state", "connecting")
    expect(page.locator("connection-status")).to_have_text("connecting")


@pytest.mark.unit
@pytest.mark.priority_p1
def test_every_connection_state_is_readable_without_serious_accessibility_violation(mount):
    # In the board's header, whose colours the indicator is drawn on.
    indicators = "".join(f'<connection-status state="{state}"></connection-status>' for state in STATES)
    page = mount(f'<header class="board-header">{indicators}</header>', "connection-status.js")
    expect(page.locator("connection-status")).to_have_text(STATES)

    assert_no_serious_violations(page, "the connection indicator in every state")
