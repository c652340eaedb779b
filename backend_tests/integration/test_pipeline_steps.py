"""A pipeline run step by step (app/pipeline.py), in-process with a worker and respx-mounted fakes: the
assignment that queues it, what each step tells the board and the metrics, the agent's work, the terminal,
and the event of a failed run. The pull request at its end is test_pipeline_pull_request.py; what a run
cleans up, test_pipeline_cleanup.py."""

import pytest
from sqlalchemy import select

from app.models import Event, Job, Sandbox, Task
from app.pipeline import STEPS
from fixtures.squads import make_squad
from mocks.llm import Turn

pytestmark = pytest.mark.integration


# -- assignment -----------------------------------------------------------------------------------------------
# Assignment through the API stores a queued job; the worker turns it into a pull request.


async def _squad_with_task(app_client, fake_github):
    made = await make_squad(app_client, fake_github)
    return made.squad, made.headers, made.agent, await made.new_task()


@pytest.mark.priority_p0
async def test_assignment_stores_a_queued_job_and_the_worker_turns_it_into_a_pull_request(
    app_client, runtime, db_session, fake_e2b, e2b_routes, fake_github, github_routes
):
    squad, headers, agent, task = await _squad_with_task(app_client, fake_github)

    response = await app_client.post(
        f"/api/v1/tasks/{task['id']}/assign", json={"agent_id": agent["id"]}, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "in_progress"
    jobs = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).all()
    assert [job.state for job in jobs] == ["queued"]

    assert await runtime.worker().run_once() is True

    stored = (await app_client.get(f"/api/v1/tasks/{task['id']}", headers=headers)).json()
    assert stored["status"] == "review", stored["error"]
    owner, name = squad["repository"].split("/")
    pulls = fake_github.pull_requests(owner, name)
    assert [(p.number, p.head_ref) for p in pulls] == [(stored["pr_number"], stored["branch"])]
    assert github_routes["create_pull_request"].call_count == 1
    assert e2b_routes["create_sandbox"].call_count == 1
    assert e2b_routes["kill_sandbox"].call_count == 1
    assert fake_e2b.running_sandboxes() == []

    db_session.expire_all()
    sandbox = (await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"]))).one()
    assert sandbox.status == "destroyed" and sandbox.destroyed_at is not None
    job = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).one()
    assert job.state == "done"
    types = (await db_session.scalars(select(Event.type).where(Event.task_id == task["id"]).order_by(Event.id))).all()
    assert types[:2] == ["task.created", "task.assigned"] and types[-2:] == ["task.status", "sandbox.status"]


@pytest.mark.priority_p0
async def test_assigning_a_task_twice_is_a_conflict_and_queues_one_job(app_client, db_session, fake_github):
    _, headers, agent, task = await _squad_with_task(app_client, fake_github)
    url = f"/api/v1/tasks/{task['id']}/assign"

    first = await app_client.post(url, json={"agent_id": agent["id"]}, headers=headers)
    second = await app_client.post(url, json={"agent_id": agent["id"]}, headers=headers)

    assert first.status_code == 202
    assert second.status_code == 409
    assert "only a task in 'todo' can be assigned" in second.json()["detail"]
    jobs = (await db_session.scalars(select(Job).where(Job.task_id == task["id"]))).all()
    assert len(jobs) == 1


# -- progress -------------------------------------------------------------------------------------------------
# What a pipeline run tells the board and the metrics, in order: the sandbox's status, each step with its
# place among the seven, and the time each step took; a crash inside a step is reported with the step.


async def run_a_task(app_client, runtime, fake_github):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    await api.assign(task["id"])
    assert await runtime.worker().run_once()
    return api, task


def step_samples(runtime, suffix: str) -> dict[str, float]:
    """The step-duration histogram's `_count` or `_sum` sample of each step."""
    samples = runtime.metrics.step_seconds.collect()[0].samples
    return {s.labels["step"]: s.value for s in samples if s.name.endswith(suffix)}


@pytest.mark.priority_p1
async def test_each_step_is_announced_in_order_with_its_place_among_the_seven(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    _, task = await run_a_task(app_client, runtime, fake_github)

    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "pipeline.step").order_by(Event.id)
    announced = list(await db_session.scalars(query))
    assert announced == [{"step": step, "index": n, "total": 7} for n, step in enumerate(STEPS, start=1)]


@pytest.mark.priority_p1
async def test_the_sandbox_status_goes_creating_ready_running_pushing_done(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    _, task = await run_a_task(app_client, runtime, fake_github)

    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "sandbox.status").order_by(Event.id)
    statuses = [(data["status"], data["sandbox_id"]) for data in await db_session.scalars(query)]
    (sandbox,) = fake_e2b.killed_sandboxes()
    assert statuses == [("creating", None)] + [
        (status, sandbox.sandbox_id) for status in ("ready", "running", "pushing", "done")
    ], statuses


@pytest.mark.priority_p1
async def test_the_sandbox_is_created_with_its_task_squad_run_and_the_pipeline_origin_as_metadata(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api, task = await run_a_task(app_client, runtime, fake_github)

    (sandbox,) = fake_e2b.killed_sandboxes()
    run_id = await db_session.scalar(select(Job.run_id).where(Job.task_id == task["id"]))
    row = await db_session.scalar(select(Sandbox).where(Sandbox.task_id == task["id"]))
    assert run_id and row.run_id == run_id, "the run's sandbox row names the job's run"
    assert sandbox.metadata == {
        "task_id": task["id"],
        "squad_id": api.squad["id"],
        "run_id": run_id,
        "origin": "pipeline",
    }


@pytest.mark.priority_p1
async def test_each_step_records_how_long_it_took(app_client, runtime, db_session, fake_e2b, fake_github):
    counts_before, sums_before = step_samples(runtime, "_count"), step_samples(runtime, "_sum")

    await run_a_task(app_client, runtime, fake_github)

    counts, sums = step_samples(runtime, "_count"), step_samples(runtime, "_sum")
    for step in STEPS:
        assert counts[step] - counts_before.get(step, 0) == 1, f"{step}: {counts}"
        took = sums[step] - sums_before.get(step, 0)
        assert 0 <= took < 60, f"{step} took {took} s by the metrics"


@pytest.mark.priority_p1
async def test_a_crash_inside_a_step_fails_the_task_naming_the_step_and_the_error(
    app_client, runtime, db_session, fake_e2b, fake_github, monkeypatch
):
    async def crash(*args, **kwargs):
        raise RuntimeError("the agent tripped")

    monkeypatch.setattr(runtime.github_accounts.primary.git, "create_branch", crash)

    _, task = await run_a_task(app_client, runtime, fake_github)

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.error) == ("failed", "branch step: internal error: RuntimeError: the agent tripped")


# -- the agent's work -----------------------------------------------------------------------------------------
# The agent's step of the pipeline: what it writes into the repository, what the board sees of it on the
# terminal, and how its failure is reported.


async def run_assigned_task(api, runtime, **task_fields):
    task = await api.new_task(**task_fields)
    await api.assign(task["id"])
    assert await runtime.worker().run_once()
    return task


@pytest.mark.priority_p1
async def test_the_default_agent_commits_its_note_and_the_terminal_shows_its_command(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm
):
    api = await make_squad(app_client, fake_github)

    task = await run_assigned_task(api, runtime, title="Fix the login", description="Users cannot log in.")

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "review", stored.error
    repo = fake_github.get_repo(api.owner, api.repo_name)
    note = repo.git.git("show", f"{stored.branch}:AGENT_NOTES.md")
    assert "Task: Fix the login" in note, note
    query = select(Event.data).where(Event.task_id == task["id"], Event.type == "terminal.output")
    lines = list(await db_session.scalars(query))
    assert lines and all(set(line) == {"stream", "text"} for line in lines), lines
    after_branch = "".join(line["text"] for line in lines).split("Switched to a new branch")[1]
    assert "# Agent notes" in after_branch and "Task: Fix the login" in after_branch, (
        f"the output of the agent's `cat AGENT_NOTES.md` is not on the terminal: {lines}"
    )


@pytest.mark.priority_p1
async def test_the_sandbox_row_keeps_the_access_token_e2b_issued(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)

    task = await run_assigned_task(api, runtime)

    row = (await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"]))).one()
    issued = {sandbox.sandbox_id: sandbox.envd_access_token for sandbox in fake_e2b.killed_sandboxes()}
    assert row.envd_access_token == issued[row.e2b_sandbox_id]


@pytest.mark.priority_p1
async def test_a_command_of_the_agent_exiting_non_zero_is_the_models_to_handle_not_a_failure(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_e2b.script_command(r"make check", stderr="No space left on device\n", exit_code=3)
    fake_llm.script(
        task["id"],
        [
            Turn.call("run_command", command="make check"),
            Turn.call("write_file", path="NOTES.md", content="make check needs disk space\n"),
            Turn.finish_with("Wrote down why the check fails"),
        ],
    )

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "review", stored.error
    told = [m["content"] for m in fake_llm.conversation(task["id"]).messages if m["role"] == "tool"]
    assert told[0] == "exit code: 3\nNo space left on device\n"


@pytest.mark.priority_p1
async def test_a_sandbox_gone_under_the_agent_fails_the_work_step_saying_so(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm, e2b_routes
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_llm.script(task["id"], [Turn.call("run_command", command="echo agent-probe"), Turn.finish_with("never")])
    route = e2b_routes["process_start"]
    forward = route.side_effect

    def sandbox_dies_at_the_agents_command(request):
        if b"agent-probe" in request.content:
            fake_e2b.kill_sandbox(request.headers["e2b-sandbox-id"])
        return forward(request)

    route.side_effect = sandbox_dies_at_the_agents_command

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "failed"
    assert stored.error.startswith("work step: E2B: ") and "the sandbox is not running" in stored.error, stored.error


@pytest.mark.priority_p1
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
    assert deadlines == {"42000"}, "each command (git's and the agent's) carries COMMAND_TIMEOUT_S to envd"


# -- the terminal ---------------------------------------------------------------------------------------------
# The board's terminal during a run: git's own output of the clone and of the new branch, and the
# task.branch event naming the branch made for the task.


@pytest.mark.priority_p1
async def test_the_terminal_shows_the_clone_and_the_new_branch(app_client, runtime, db_session, fake_e2b, fake_github):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    stored = await db_session.get(Task, task["id"])
    events = list(await db_session.scalars(select(Event).where(Event.task_id == task["id"]).order_by(Event.id)))
    terminal = [e.data for e in events if e.type == "terminal.output"]
    assert {"stream": "stderr", "text": "Cloning into 'repo'...\n"} in terminal, terminal
    assert {"stream": "stderr", "text": f"Switched to a new branch '{stored.branch}'\n"} in terminal, terminal
    assert [e.data for e in events if e.type == "task.branch"] == [{"branch": stored.branch, "resumed": False}]


# -- the failure event ----------------------------------------------------------------------------------------
# The event a failed task announces: status failed, no pull request, and the reason, in exactly that
# shape (the board reads each field).


@pytest.mark.priority_p1
async def test_a_failed_task_announces_failed_with_no_pull_request_and_the_reason(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_e2b.add_fault("create_sandbox", status=500)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    query = select(Event).where(Event.task_id == task["id"], Event.type == "task.status").order_by(Event.id)
    final = list(await db_session.scalars(query))[-1]
    assert set(final.data) == {"status", "pr_url", "error"}, final.data
    assert (final.data["status"], final.data["pr_url"]) == ("failed", None)
    assert final.data["error"].startswith("sandbox step: E2B: "), final.data["error"]
