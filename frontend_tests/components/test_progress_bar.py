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
def test_progress_bar_animates_its_fill_to_the_new_width(mount):
    page = mount('<progress-bar value="0" max="7" label="Pipeline progress"></progress-bar>', "progress-bar.js")
    page.emulate_media(reduced_motion="no-preference")

    # The running CSS transitions of the fill, read in the same task as the change that starts them.
    transitions = page.get_by_role("progressbar", name="Pipeline progress").evaluate(
        """el => {
            const fill = (el.shadowRoot || el).querySelector('.progress-bar__fill');
            getComputedStyle(fill).width;  // the width before, so the change is a transition
            el.setAttribute('value', '7');
            return fill.getAnimations().map(a => ({property: a.transitionProperty, ms: a.effect.getTiming().duration}));
        }"""
    )

    assert [t["property"] for t in transitions] == ["width"], transitions
    assert transitions[0]["ms"] > 0, f"the fill jumps instead of animating: {transitions}"


@pytest.mark.unit
@pytest.mark.priority_p2
def test_progress_bar_does_not_animate_for_users_who_ask_for_reduced_motion(mount):
    page = mount('<progress-bar value="2" max="7"></progress-bar>', "progress-bar.js")

    page.emulate_media(reduced_motion="reduce")

    expect(page.locator(".progress-bar__fill")).to_have_css("transition-duration", "0s")


# (value, max) as given -> (aria-valuenow, aria-valuemax) shown
OUT_OF_RANGE = {("12", "7"): ("7", "7"), ("-1", "7"): ("0", "7"), ("x", "0"): ("0", "100")}


@pytest.mark.unit
@pytest.mark.priority_p2
def test_progress_bar_clamps_values_out_of_range(mount):
    bars = "".join(
        f'<progress-bar value="{value}" max="{max_}" label="bar {n}"></progress-bar>'
        for n, (value, max_) in enumerate(OUT_OF_RANGE)
    )
    page = mount(bars, "progress-bar.js")

    for n, (now, maximum) in enumerate(OUT_OF_RANGE.values()):
        bar = page.get_by_role("progressbar", name=f"bar {n}", exact=True)
        expect(bar).to_have_attribute("aria-valuenow", now)
        expect(bar).to_have_attribute("aria-valuemax", maximum)


@pytest.mark.unit
@pytest.mark.priority_p1
def test_progress_bar_at_its_maximum_is_complete_and_fills_the_whole_track(mount):
    page = mount('<progress-bar value="6" max="7" label="Pipeline progress"></progress-bar>', "progress-bar.js")
    page.emulate_media(reduced_motion="reduce")  # no width transition to wait for
    bar = page.get_by_role("progressbar", name="Pipeline progress")

    bar.evaluate("el => { el.value = 7; }")

    expect(bar).to_have_attribute("aria-valuenow", "7")
    expect(bar).to_have_attribute("aria-valuetext", "7 of 7")
    expect(bar).to_have_css("--progress", "100%")
    track, fill = bar.bounding_box(), bar.locator(".progress-bar__fill").bounding_box()
    assert track and fill and abs(track["width"] - fill["width"]) < 1, f"fill {fill} should cover track {track}"
