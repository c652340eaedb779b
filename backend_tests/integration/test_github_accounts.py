"""Several GitHub tokens (GITHUB_TOKEN, then GITHUB_EXTRA_TOKENS), each of another account: the tasks spread
over them, each task's pull request opened by its own account, and a rate limit one account meets holding
up that account's jobs only, and each of them without a refusal of its own.

Jobs run side by side, so these tests run a runtime with its own engine (`own_runtime`). Each further
token is an account of its own in the fake GitHub (a login), so a pull request shows which one opened
it. GitHub's waits are on a clock the test moves, never slept.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.models import Event, Task
from app.runtime import Runtime
from fixtures.credentials import canary_github_tokens
from fixtures.fake_time import HeldSleeps, RecordedSleeps
from fixtures.inprocess import wait_on
from fixtures.squads import Squad, make_squad
from fixtures.waiting import eventually_async
from mocks.github.state import FakeGitHub

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

TOKENS = canary_github_tokens(3)
EXTRA_LOGINS = ["squad-bot-two", "squad-bot-three"]
DEADLINE_S = 60.0


@pytest.fixture
def own_runtime_changes() -> dict[str, Any]:
    return {"worker_concurrency": 6, "github_extra_tokens": SecretStr(",".join(TOKENS[1:]))}


@pytest.fixture
def logins(fake_github: FakeGitHub) -> dict[str, str]:
    """The login of each of the platform's accounts, by the setting of its token; the fake takes the
    further tokens as other users' (the first is the fake's own user's)."""
    for token, login in zip(TOKENS[1:], EXTRA_LOGINS, strict=True):
        fake_github.add_token(token, login)
    return {
        "GITHUB_TOKEN": fake_github.user_login,
        "token 1 of GITHUB_EXTRA_TOKENS": EXTRA_LOGINS[0],
        "token 2 of GITHUB_EXTRA_TOKENS": EXTRA_LOGINS[1],
    }


@contextlib.asynccontextmanager
async def working(runtime: Runtime) -> AsyncIterator[None]:
    running = asyncio.create_task(runtime.worker().run_forever())
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def tasks_by_account(squad: Squad, runtime: Runtime, wanted: dict[str, int]) -> dict[str, list[str]]:
    """New tasks of the squad until each account (by its setting) has as many as `wanted` says; the
    account is chosen from the task's id, so the tasks are made until the ids fall right."""
    found: dict[str, list[str]] = {credential: [] for credential in wanted}
    for _ in range(200):
        if all(len(found[credential]) >= count for credential, count in wanted.items()):
            return found
        task = await squad.new_task()
        credential = runtime.github_accounts.for_task(task["id"]).credential
        if credential in found and len(found[credential]) < wanted[credential]:
            found[credential].append(task["id"])
    raise AssertionError(f"200 tasks did not give every account its tasks: {found}")


async def statuses(runtime: Runtime, task_ids: list[str]) -> list[str]:
    async with runtime.sessionmaker() as session:
        tasks = list(await session.scalars(select(Task).where(Task.id.in_(task_ids))))
    if failed := [task.error for task in tasks if task.status == "failed"]:
        pytest.fail(f"tasks failed: {failed}")
    return [task.status for task in tasks]


async def in_review(runtime: Runtime, task_ids: list[str]) -> None:
    async def all_in_review() -> None:
        seen = await statuses(runtime, task_ids)
        assert seen == ["review"] * len(task_ids), f"tasks are {seen}"

    await eventually_async(all_in_review, deadline_s=DEADLINE_S, description=f"{len(task_ids)} tasks in review")


async def test_each_task_opens_its_pull_request_with_its_own_account_so_one_accounts_limit_is_not_all_of_them(
    own_client, own_runtime, fake_e2b, fake_github, fake_llm, logins
):
    squad = await make_squad(own_client, fake_github)
    by_account = await tasks_by_account(squad, own_runtime, dict.fromkeys(logins, 1))
    fake_github.content_creation_per_minute = 1  # per token: three pull requests in a minute need three
    waits = RecordedSleeps(hooks=[fake_github.advance_time])
    wait_on(own_runtime, waits)
    task_ids = [task_id for ids in by_account.values() for task_id in ids]

    async with working(own_runtime):
        for task_id in task_ids:
            await squad.assign(task_id)
        await in_review(own_runtime, task_ids)

    pulls = {pull.head_ref: pull for pull in fake_github.pull_requests(squad.owner, squad.repo_name)}
    async with own_runtime.sessionmaker() as session:
        tasks = {task.id: task for task in await session.scalars(select(Task).where(Task.id.in_(task_ids)))}
        events = list(await session.scalars(select(Event).where(Event.task_id.in_(task_ids))))
    opened_by = {credential: pulls[tasks[ids[0]].branch].user_login for credential, ids in by_account.items()}
    assert opened_by == logins, "each task's pull request comes from its own account"
    assert [entry.status for entry in fake_github.requests("create_pull_request")] == [201] * 3
    assert waits.waits == [], "no account met its limit"
    stored = " ".join(str(event.data) for event in events)
    assert not [token for token in TOKENS if token in stored], "a token is in the tasks' events"


async def test_a_rate_limit_one_account_meets_holds_up_its_jobs_without_refusals_of_their_own_and_no_other(
    own_client, own_runtime, fake_e2b, fake_github, fake_llm, logins
):
    squad = await make_squad(own_client, fake_github)
    by_account = await tasks_by_account(squad, own_runtime, {"GITHUB_TOKEN": 2, "token 1 of GITHUB_EXTRA_TOKENS": 1})
    (first, second), (other,) = by_account.values()
    held = HeldSleeps(hooks=[fake_github.advance_time])
    wait_on(own_runtime, held)
    fake_github.trip_secondary_rate_limit(TOKENS[0], retry_after=30)

    async with working(own_runtime):
        await squad.assign(first)
        await eventually_async(lambda: sleeping(held, 1), deadline_s=DEADLINE_S, description="the first job waiting")
        await squad.assign(second)
        await squad.assign(other)
        await eventually_async(lambda: sleeping(held, 2), deadline_s=DEADLINE_S, description="both jobs waiting")
        await in_review(own_runtime, [other])
        refused_while_limited = [entry for entry in fake_github.requests() if entry.status == 403]
        waiting = await statuses(own_runtime, [first, second])
        held.advance(30)
        await in_review(own_runtime, [first, second])

    assert waiting == ["in_progress"] * 2
    assert len(refused_while_limited) == 1, "the second job waited at its account's gate instead of asking"
    assert [entry.status for entry in fake_github.requests() if entry.status == 403] == [403]
    pulls = fake_github.pull_requests(squad.owner, squad.repo_name)
    assert len(pulls) == 3 and len({pull.head_ref for pull in pulls}) == 3, "one pull request each"


def sleeping(held: HeldSleeps, expected: int) -> None:
    assert held.sleeping == expected, f"{held.sleeping} calls waiting for GitHub, expected {expected}"
