"""A task whose branch a first attempt already pushed: the pipeline continues on that branch (says so in
the task.branch event, shows git's checkout on the terminal) and the pull request holds both attempts."""

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.models import Event, Task
from app.pipeline import branch_name
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def test_a_pushed_branch_is_resumed_and_its_pull_request_holds_both_attempts(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    branch = branch_name(SimpleNamespace(id=task["id"], title=task["title"]))  # type: ignore[arg-type]
    repo = fake_github.get_repo(api.owner, api.repo_name)
    # What a first attempt pushed: a commit on the branch, on top of the default branch.
    first = fake_github.commit(api.owner, api.repo_name, branch, {"FIRST.md": "first attempt\n"}, "First attempt")

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.branch) == ("review", branch), stored.error
    events = list(await db_session.scalars(select(Event).where(Event.task_id == task["id"]).order_by(Event.id)))
    assert [e.data for e in events if e.type == "task.branch"] == [{"branch": branch, "resumed": True}]
    terminal = "".join(e.data["text"] for e in events if e.type == "terminal.output")
    assert f"set up to track 'origin/{branch}'" in terminal, terminal
    assert repo.git.git("log", "--format=%H", branch).split()[1] == first, "the first attempt's commit is lost"
