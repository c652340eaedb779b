"""The LLM provider's faults in the fault matrix's terms, on the fault stack (its LLM timeout is
HTTP_TIMEOUT_S): the task ends in a defined state, the stream replays what the database holds, no
pull request is opened twice and no sandbox is left. The conversation is scripted per task through
the fake LLM's admin API, so no other test's agent meets the fault."""

from collections.abc import Iterator

import pytest

from fixtures.outcomes import (
    TIMEOUT_LATENCY_MS,
    Scene,
    assert_clean_end,
)
from fixtures.platform_client import FakeLLMAdmin
from mocks.llm import Turn

pytestmark = [pytest.mark.e2e, pytest.mark.errors, pytest.mark.slow]


@pytest.fixture
def llm(scene: Scene) -> Iterator[FakeLLMAdmin]:
    admin = FakeLLMAdmin(scene.stack.llm_url)
    yield admin
    admin.remove_added()
    admin.close()


def _finish(scene: Scene) -> tuple[dict, list[dict]]:
    with scene.stream() as live:
        scene.assign()
        return scene.wait_for_the_end(live, timeout=60)


@pytest.mark.priority_p1
def test_a_model_that_never_answers_in_time_fails_the_task_saying_so(scene: Scene, llm: FakeLLMAdmin):
    llm.script(
        scene.task_id,
        [
            Turn.call("write_file", path="a.txt", content="a\n"),
            Turn(content="too late", delay_ms=TIMEOUT_LATENCY_MS),
        ],
    )

    task, received = _finish(scene)

    assert_clean_end(scene, task, received, "failed", "work step: LLM: the LLM provider did not answer in time")
    assert "gave up after" in task["error"], task["error"]


@pytest.mark.priority_p1
def test_a_rate_limited_turn_is_waited_for_and_the_task_ends_in_review(scene: Scene, llm: FakeLLMAdmin):
    llm.script(
        scene.task_id,
        [
            Turn.call("write_file", path="a.txt", content="a\n"),
            Turn.fail(429, times=2, headers={"retry-after-ms": "100"}),
            Turn.finish_with("done"),
        ],
    )

    task, received = _finish(scene)

    assert_clean_end(scene, task, received, "review")
