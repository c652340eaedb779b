"""The pipeline's own decisions (app/pipeline.py), without a run: the branch an agent works on and the step a
failure is blamed on. Runs of the pipeline are integration/test_pipeline_*.py."""

from types import SimpleNamespace

import pytest

from app.pipeline import TaskRun, branch_name

pytestmark = pytest.mark.unit

TASK_ID = "0123456789abcdef0123456789abcdef"


# -- the branch name ------------------------------------------------------------------------------------------
# The branch an agent works on: `agent/<first 8 of the task id>-<slug of the title>`, the slug made of
# lowercase letters and digits joined by single dashes, at most 40 characters, "task" when nothing is left.


@pytest.mark.priority_p1
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


# -- the step a failure is blamed on --------------------------------------------------------------------------
# The step a pipeline failure is blamed on: the step under way, and the sandbox step when the failure
# comes before any step began (announcing the run already failed).


@pytest.mark.priority_p2
def test_a_failure_before_any_step_is_blamed_on_the_sandbox_step():
    run = TaskRun(services=None, task_id="t-1")  # type: ignore[arg-type]

    assert run._current_step() == "sandbox"


@pytest.mark.priority_p2
def test_a_failure_during_a_step_is_blamed_on_that_step():
    run = TaskRun(services=None, task_id="t-1")  # type: ignore[arg-type]
    run._step = ("push", 0.0)

    assert run._current_step() == "push"
