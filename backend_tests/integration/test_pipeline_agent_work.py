"""The agent's step of the pipeline: what it writes into the repository, what the board sees of it on the
terminal, and how its failure is reported."""

import pytest
from sqlalchemy import select

from app.models import Event, Sandbox, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def run_assigned_task(api, runtime, **task_fields):
    task = await api.new_task(**task_fields)
    await api.assign(task["id"])
    assert await runtime.worker().run_once()
    return task


async def test_the_agent_commits_a_note_of_the_task_and_its_terminal_shows_it(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)

    task = await run_assigned_task(api, runtime, title="Fix the login", description="Users cannot log in.")

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "review", stored.error
    path = f".agent-squad/task-{task['id']}.md"
    repo = fake_github.get_repo(api.owner, api.repo_name)
    assert repo.git.git("show", f"{stored.branch}:{path}") == "# Fix the login\n\nUsers cannot log in.\n"
    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "terminal.output")
    lines = list(await db_session.scalars(query))
    assert lines and all(set(line) == {"stream", "text"} for line in lines), lines
    assert {"stream": "stdout", "text": f"{api.agent['name']} wrote {path}\n"} in lines, lines


async def test_the_sandbox_row_keeps_the_access_token_e2b_issued(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)

    task = await run_assigned_task(api, runtime)

    row = (await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"]))).one()
    issued = {sandbox.sandbox_id: sandbox.envd_access_token for sandbox in fake_e2b.killed_sandboxes()}
    assert row.envd_access_token == issued[row.e2b_sandbox_id]


async def test_agent_work_exiting_non_zero_fails_the_task_with_its_exit_code_and_output(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    fake_e2b.script_command(r"mkdir -p \.agent-squad", stderr="No space left on device\n", exit_code=3)

    task = await run_assigned_task(api, runtime)

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "failed"
    assert stored.error == "work step: E2B: agent work exited with code 3: No space left on device", stored.error


async def test_every_command_of_the_pipeline_runs_under_the_configured_command_timeout(
    app_client, runtime, db_connection, e2b_routes, fake_github
):
    from app.runtime import Runtime

    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    await api.assign(task["id"])
    settings = runtime.settings.model_copy(update={"command_timeout_s": 42.0})
    configured = Runtime(settings, bind=db_connection)
    try:
        assert await configured.worker().run_once()
    finally:
        await configured.__aexit__(None, None, None)

    deadlines = {call.request.headers["connect-timeout-ms"] for call in e2b_routes["process_start"].calls}
    assert deadlines == {"42000"}, "each command (git and the agent's work) carries COMMAND_TIMEOUT_S to envd"
