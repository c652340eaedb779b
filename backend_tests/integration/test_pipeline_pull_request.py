"""The pipeline's last steps: what it commits and pushes (and shows on the terminal), the pull request it
opens (title, body with the agent's summary) and announces, one it finds already open and reuses, a branch
a first attempt already pushed and resumed, and an agent that changed nothing."""

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.models import Event, Task
from app.pipeline import branch_name
from fixtures.squads import make_squad
from mocks.llm import Turn

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def run_task(api, runtime, task) -> None:
    await api.assign(task["id"])
    assert await runtime.worker().run_once()


async def stored_events(db_session, task_id: str) -> list[Event]:
    return list(await db_session.scalars(select(Event).where(Event.task_id == task_id).order_by(Event.id)))


def open_a_pull_request_first(fake_github, api, task) -> tuple[str, int]:
    """The task's branch with a commit and an open pull request on GitHub, as a first attempt leaves them."""
    owner, name = api.owner, api.repo_name
    branch = branch_name(SimpleNamespace(id=task["id"], title=task["title"]))  # type: ignore[arg-type]
    fake_github.commit(owner, name, branch, {"FIRST.md": "first attempt\n"}, "First attempt")
    pull = fake_github.create_pull_request(owner, name, head=branch, base="main", title=task["title"])
    return branch, pull.number


async def test_the_pull_request_carries_the_task_and_the_agents_summary_and_is_announced_then_review(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task(title="Speed up search", description="Search takes 3 s.")
    fake_llm.script(
        task["id"],
        [
            Turn.call("write_file", path="search.py", content="CACHE = {}\n"),
            Turn.finish_with("Cached the search index; search now takes 40 ms."),
        ],
    )

    await run_task(api, runtime, task)

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.error) == ("review", None)
    (pull,) = fake_github.pull_requests(api.owner, api.repo_name)
    assert (pull.title, pull.body) == (
        "Speed up search",
        "Search takes 3 s.\n\n## What the agent did\n\nCached the search index; search now takes 40 ms.\n\n"
        f"Opened by {api.agent['name']}.",
    )
    assert (stored.pr_number, stored.pr_url.endswith(f"/pull/{pull.number}")) == (pull.number, True)
    events = await stored_events(db_session, task["id"])
    opened = [e.data for e in events if e.type == "pull_request.opened"]
    assert opened == [{"url": stored.pr_url, "number": pull.number}]
    final = [e.data for e in events if e.type == "task.status"][-1]
    assert final == {"status": "review", "pr_url": stored.pr_url, "error": None}
    pipeline_events = [e for e in events if e.type not in ("task.created", "task.assigned")]
    assert {e.agent_id for e in pipeline_events} == {api.agent["id"]}, "the agent filter of the stream needs it"
    terminal = "".join(e.data["text"] for e in events if e.type == "terminal.output")
    assert "Speed up search" in terminal, f"the commit's line is not on the terminal: {terminal}"
    assert "[new branch]" in terminal, f"the push's line is not on the terminal: {terminal}"


async def test_a_pull_request_already_open_for_the_branch_is_reused_without_asking_for_another(
    app_client, runtime, db_session, fake_e2b, fake_github, github_routes
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    _, number = open_a_pull_request_first(fake_github, api, task)

    await run_task(api, runtime, task)

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.pr_number) == ("review", number), stored.error
    assert github_routes["create_pull_request"].call_count == 0
    assert len(fake_github.pull_requests(api.owner, api.repo_name)) == 1


async def test_a_pull_request_opened_between_the_check_and_the_request_is_taken_as_the_tasks(
    app_client, runtime, db_session, fake_e2b, fake_github, github_routes
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    _, number = open_a_pull_request_first(fake_github, api, task)
    # The first look finds nothing (another worker's pull request is not listed yet); GitHub then
    # refuses a second one as a duplicate, and the second look finds it.
    fake_github.add_fault("list_pull_requests", status=200, body=[], times=1)

    await run_task(api, runtime, task)

    stored = await db_session.get(Task, task["id"])
    assert (stored.status, stored.pr_number) == ("review", number), stored.error
    assert github_routes["create_pull_request"].call_count == 1
    assert len(fake_github.pull_requests(api.owner, api.repo_name)) == 1


async def test_a_job_whose_task_is_gone_says_which_task(runtime):
    with pytest.raises(LookupError) as raised:
        await runtime.pipeline.run("no-such-task")

    assert str(raised.value) == "task no-such-task does not exist"


async def test_an_agent_that_changed_nothing_fails_the_task_saying_so(
    app_client, runtime, db_session, fake_e2b, fake_github, fake_llm
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_llm.script(task["id"], [Turn.call("run_command", command="ls"), Turn.finish_with("Thought about it.")])

    await run_task(api, runtime, task)

    stored = await db_session.get(Task, task["id"])
    assert stored.status == "failed"
    assert stored.error.startswith("commit step: ") and "nothing to commit" in stored.error, stored.error
    assert fake_github.pull_requests(api.owner, api.repo_name) == []


# -- resuming a pushed branch ---------------------------------------------------------------------------------
# A task whose branch a first attempt already pushed: the pipeline continues on that branch (says so in
# the task.branch event, shows git's checkout on the terminal) and the pull request holds both attempts.


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
