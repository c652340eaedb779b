"""The step a pipeline failure is blamed on: the step under way, and the sandbox step when the failure
comes before any step began (announcing the run already failed)."""

import pytest

from app.pipeline import TaskRun

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


def test_a_failure_before_any_step_is_blamed_on_the_sandbox_step():
    run = TaskRun(services=None, task_id="t-1")  # type: ignore[arg-type]

    assert run._current_step() == "sandbox"


def test_a_failure_during_a_step_is_blamed_on_that_step():
    run = TaskRun(services=None, task_id="t-1")  # type: ignore[arg-type]
    run._step = ("push", 0.0)

    assert run._current_step() == "push"
