"""The board's terminal during a run: git's own output of the clone and of the new branch, and the
task.branch event naming the branch made for the task."""

import pytest
from sqlalchemy import select

from app.models import Event, Task
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


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
