"""The branch an agent works on: `agent/<first 8 of the task id>-<slug of the title>`, the slug made of
lowercase letters and digits joined by single dashes, at most 40 characters, "task" when nothing is left."""

from types import SimpleNamespace

import pytest

from app.pipeline import branch_name

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

TASK_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Fix the Login bug", "agent/01234567-fix-the-login-bug"),
        ("  --Add OAuth 2.0 (GitHub)!  ", "agent/01234567-add-oauth-2-0-github"),
        ("!!! ???", "agent/01234567-task"),
        ("a" * 50, "agent/01234567-" + "a" * 40),
    ],
    ids=["words", "punctuation-and-edges", "nothing-left", "long-title"],
)
def test_the_branch_is_named_after_the_task_id_and_a_slug_of_its_title(title, expected):
    task = SimpleNamespace(id=TASK_ID, title=title)

    assert branch_name(task) == expected  # type: ignore[arg-type]
