"""E2B sandboxes are created with secure access, and the envd access token E2B answers with stays inside the
platform: it is sent to envd (X-Access-Token) and nowhere else, not in an API answer, an event, a task's
error, the terminal output or a log line, even when a command in the sandbox prints it."""

import json
import logging

import pytest
from sqlalchemy import select

from app.models import Event, Sandbox, Task
from app.services.e2b import CommandResult
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


def create_bodies(e2b_routes) -> list[dict]:
    return [json.loads(call.request.content) for call in e2b_routes["create_sandbox"].calls]


def token_of(fake_e2b, sandbox_id: str) -> str:
    sandbox = fake_e2b.find_sandbox(sandbox_id) or next(
        s for s in fake_e2b.killed_sandboxes() if s.sandbox_id == sandbox_id
    )
    assert sandbox.envd_access_token, "the fake E2B gave the sandbox no access token"
    return sandbox.envd_access_token


def printing_tokens(runtime, monkeypatch, *, fail_on: str | None = None) -> None:
    """Every command in a sandbox also prints that sandbox's access token (as `env` might); the one whose
    command line holds `fail_on` then fails, so its output becomes the task's error too."""
    run = runtime.sandboxes.run

    async def run_and_print_the_token(sandbox, command, *, on_output=None, **options):
        result = await run(sandbox, command, on_output=on_output, **options)
        line = f"E2B_ACCESS_TOKEN={sandbox.envd_access_token}\n"
        if on_output is not None:
            await on_output("stdout", line)
        exit_code = 3 if fail_on and fail_on in command else result.exit_code
        return CommandResult(exit_code, result.stdout + line, result.stderr, [*result.chunks, ("stdout", line)])

    monkeypatch.setattr(runtime.sandboxes, "run", run_and_print_the_token)


async def events_of(db_session, task_id: str) -> str:
    rows = await db_session.scalars(select(Event).where(Event.task_id == task_id).order_by(Event.id))
    return json.dumps([{"type": e.type, "data": e.data} for e in rows])


async def test_sandboxes_are_created_with_secure_access(app_client, runtime, fake_e2b, e2b_routes, fake_github):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    await api.new_sandbox(task["id"])
    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    bodies = create_bodies(e2b_routes)
    assert len(bodies) == 2, bodies
    assert [body.get("secure") for body in bodies] == [True, True], bodies


async def test_a_sandbox_made_by_hand_is_answered_and_announced_without_its_access_token(
    app_client, runtime, db_session, fake_e2b, fake_github, monkeypatch
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    printing_tokens(runtime, monkeypatch)

    created = await api.call("POST", "/api/v1/sandboxes", json={"task_id": task["id"]})
    token = token_of(fake_e2b, created.json()["e2b_sandbox_id"])
    read = await api.call("GET", f"/api/v1/sandboxes/{created.json()['id']}")
    cloned = await api.call("POST", "/api/v1/git/clone", json={"sandbox_id": created.json()["id"]})

    assert (created.status_code, read.status_code, cloned.status_code) == (201, 200, 200), cloned.text
    for response in (created, read, cloned):
        assert token not in response.text, f"{response.request.url} answered the sandbox's access token"
    assert "E2B_ACCESS_TOKEN=***" in cloned.json()["output"]
    assert token not in await events_of(db_session, task["id"])
    # The platform itself keeps it, to run the step endpoints' commands.
    assert (await db_session.get(Sandbox, created.json()["id"])).envd_access_token == token


async def test_a_pipeline_run_never_shows_its_sandboxs_access_token(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="app")
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    # The agent's commands print it too (the default agent runs one), and the push fails with it.
    printing_tokens(runtime, monkeypatch, fail_on="push --porcelain")

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    (sandbox,) = fake_e2b.killed_sandboxes()
    token = sandbox.envd_access_token
    stored = await db_session.get(Task, task["id"])
    assert stored.status == "failed" and "E2B_ACCESS_TOKEN=***" in stored.error, stored.error
    events = await events_of(db_session, task["id"])
    assert token not in events and "E2B_ACCESS_TOKEN=***" in events
    answered = await api.call("GET", f"/api/v1/tasks/{task['id']}")
    assert token not in answered.text
    sent = fake_llm.conversation(task["id"]).sent_text()
    assert token not in sent and "E2B_ACCESS_TOKEN=***" in sent, "the model was sent the agent's command output"
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("app.")]
    assert logged and not [line for line in logged if token in line], "a log line of the platform holds the token"
