"""Accessibility checks with axe-core (axe-playwright-python injects it into the page)."""

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# Violations of these impacts fail a test; "minor" and "moderate" ones are left to review.
BLOCKING_IMPACTS = ("serious", "critical")

_axe = Axe()


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
    return f"  {violation['impact']}: {violation['id']} ({violation['help']}) at {targets}"


def assert_no_serious_violations(page: Page, what: str, selector: str | None = None) -> None:
    """Run axe on the page (or on the part `selector` names) and fail on any serious or critical violation."""
    results = _axe.run(page, context=selector)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, f"axe found {len(blocking)} serious or critical violations on {what}:\n" + "\n".join(
        map(_describe, blocking)
    )
