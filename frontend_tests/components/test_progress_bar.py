"""<progress-bar>: an accessible bar that follows its value and never leaves its range."""

import re

import pytest
from playwright.sync_api import expect


@pytest.mark.unit
@pytest.mark.priority_p1
def test_progress_bar_exposes_its_value_and_fills_in_proportion(mount):
    page = mount('<progress-bar value="0" max="7" label="Pipeline progress"></progress-bar>', "progress-bar.js")
    bar = page.get_by_role("progressbar", name="Pipeline progress")
    expect(bar).to_have_attribute("aria-valuenow", "0")

    bar.evaluate("el => el.setAttribute('value', '3')")

    expect(bar).to_have_attribute("aria-valuenow", "3")
    expect(bar).to_have_attribute("aria-valuemax", "7")
    expect(bar).to_have_attribute("aria-valuetext", "3 of 7")
    # 3 of 7 is 42.857…% of the track; the fill animates its width there.
    expect(bar).to_have_css("--progress", re.compile(r"^42\.857\d*%$"))
    expect(bar.locator(".progress-bar__fill")).to_have_css("transition-property", "width")


@pytest.mark.unit
@pytest.mark.priority_p2
def test_progress_bar_does_not_animate_for_users_who_ask_for_reduced_motion(mount):
    page = mount('<progress-bar value="2" max="7"></progress-bar>', "progress-bar.js")

    page.emulate_media(reduced_motion="reduce")

    expect(page.locator(".progress-bar__fill")).to_have_css("transition-duration", "0s")


@pytest.mark.unit
@pytest.mark.priority_p2
@pytest.mark.parametrize(
    ("value", "max_", "now", "maximum"), [("12", "7", "7", "7"), ("-1", "7", "0", "7"), ("x", "0", "0", "100")]
)
def test_progress_bar_clamps_values_out_of_range(mount, value, max_, now, maximum):
    page = mount(f'<progress-bar value="{value}" max="{max_}"></progress-bar>', "progress-bar.js")

    bar = page.get_by_role("progressbar", name="Progress")
    expect(bar).to_have_attribute("aria-valuenow", now)
    expect(bar).to_have_attribute("aria-valuemax", maximum)
