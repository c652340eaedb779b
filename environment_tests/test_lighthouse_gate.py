"""`make lighthouse`'s verdict (tools/lighthouse_gate.py): a category below its threshold fails the
gate and names the audits that cost it points; the squad's token never stays in a kept report."""

from pathlib import Path

import pytest

from tools import lighthouse_gate

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


def report(scores: dict[str, float], failing: str = "color-contrast") -> dict:
    return {
        "finalDisplayedUrl": "http://127.0.0.1:1/",
        "categories": {
            name: {"score": score, "auditRefs": [{"id": failing, "weight": 7}, {"id": "passing", "weight": 3}]}
            for name, score in scores.items()
        },
        "audits": {failing: {"score": 0}, "passing": {"score": 1}},
    }


def test_scores_at_their_thresholds_pass() -> None:
    result = lighthouse_gate.verdict(report({"performance": 0.9, "accessibility": 0.95, "best-practices": 0.95}))

    assert result["passed"]
    assert result["categories"]["performance"] == {"score": 90, "threshold": 90}


def test_a_score_below_its_threshold_fails_naming_the_audits_that_lost_points() -> None:
    result = lighthouse_gate.verdict(report({"performance": 1.0, "accessibility": 0.8, "best-practices": 1.0}))

    assert not result["passed"]
    assert result["categories"]["accessibility"]["losing_audits"] == ["color-contrast"]
    assert "losing_audits" not in result["categories"]["performance"]


def test_the_token_is_taken_out_of_the_reports(tmp_path: Path) -> None:
    kept = tmp_path / "board.report.html"
    kept.write_text('<a href="http://127.0.0.1:1/#squad=s&token=sq_secret123">board</a>')

    lighthouse_gate.scrub([kept, tmp_path / "missing.json"], "sq_secret123")

    assert "sq_secret123" not in kept.read_text() and "token=***" in kept.read_text()
