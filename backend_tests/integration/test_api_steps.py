"""The pipeline's steps by hand over the API: sandbox, clone, branch, commit, push, pull request.

POST /sandboxes stores the sandbox, /git/clone clones in it, /git/push pushes the branch,
/github/pull-requests opens the PR and updates the task; and the error answers of each.
"""

import pytest
from sqlalchemy import select

from app.models import Event, Sandbox, Task

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


async def test_creating_a_sandbox_stores_it_and_destroying_it_twice_is_fine(
    api_squad, fake_e2b, e2b_routes, db_session
):
    task = await api_squad.new_task()

    sandbox = await api_squad.new_sandbox(task["id"])

    stored = await db_session.get(Sandbox, sandbox["id"])
    assert (stored.task_id, stored.e2b_sandbox_id, stored.status) == (task["id"], sandbox["e2b_sandbox_id"], "ready")
    assert "envd_access_token" not in sandbox
    assert [s.sandbox_id for s in fake_e2b.running_sandboxes()] == [sandbox["e2b_sandbox_id"]]

    first = await api_squad.call("DELETE", f"/api/v1/sandboxes/{sandbox['id']}")
    second = await api_squad.call("DELETE", f"/api/v1/sandboxes/{sandbox['id']}")

    assert (first.status_code, second.status_code) == (204, 204)
    assert fake_e2b.running_sandboxes() == []
    assert e2b_routes["kill_sandbox"].call_count == 1
    read = await api_squad.call("GET", f"/api/v1/sandboxes/{sandbox['id']}")
    assert read.json()["status"] == "destroyed" and read.json()["destroyed_at"]


async def test_clone_branch_commit_push_and_pull_request_by_hand(api_squad, fake_e2b, fake_github, db_session):
    task = await api_squad.new_task(title="Hand made")
    sandbox = await api_squad.new_sandbox(task["id"])
    owner, name = api_squad.owner, api_squad.repo_name
    body = {"sandbox_id": sandbox["id"]}

    clone = await api_squad.call("POST", "/api/v1/git/clone", json=body)
    branch = await api_squad.call("POST", "/api/v1/git/branch", json=body | {"branch": "feature/by-hand"})
    nothing = await api_squad.call("POST", "/api/v1/git/commit", json=body | {"message": "empty"})
    # A person's edit in the sandbox between two calls.
    (fake_e2b.workspace(sandbox["e2b_sandbox_id"]) / "repo" / "NOTES.md").write_text("by hand\n")
    commit = await api_squad.call("POST", "/api/v1/git/commit", json=body | {"message": "Add notes"})
    push = await api_squad.call("POST", "/api/v1/git/push", json=body | {"branch": "feature/by-hand"})
    pull = await api_squad.call(
        "POST", "/api/v1/github/pull-requests", json={"task_id": task["id"], "branch": "feature/by-hand"}
    )

    assert clone.status_code == 200 and clone.json()["branch"] == "main", clone.text
    assert branch.status_code == 200, branch.text
    assert nothing.status_code == 409 and "nothing to commit" in nothing.json()["detail"]
    assert commit.status_code == 200, commit.text
    assert push.status_code == 200, push.text
    assert pull.status_code == 201, pull.text
    again = await api_squad.call(
        "POST", "/api/v1/github/pull-requests", json={"task_id": task["id"], "branch": "feature/by-hand"}
    )
    assert again.status_code == 409 and pull.json()["url"] in again.json()["detail"]
    assert [c["message"] for c in fake_github.branch_log(owner, name, "feature/by-hand")][0] == "Add notes"
    stored = await db_session.get(Task, task["id"])
    await db_session.refresh(stored)
    assert (stored.status, stored.pr_url, stored.branch) == ("review", pull.json()["url"], "feature/by-hand")
    types = (await db_session.scalars(select(Event.type).where(Event.task_id == task["id"]))).all()
    assert types[-2:] == ["pull_request.opened", "task.status"]


async def test_git_on_a_destroyed_sandbox_is_409(api_squad):
    task = await api_squad.new_task()
    sandbox = await api_squad.new_sandbox(task["id"])
    await api_squad.call("DELETE", f"/api/v1/sandboxes/{sandbox['id']}")

    response = await api_squad.call("POST", "/api/v1/git/clone", json={"sandbox_id": sandbox["id"]})

    assert response.status_code == 409
    assert "destroyed" in response.json()["detail"]


@pytest.mark.parametrize("branch", ["-rf", "a..b", "ends/", "x.lock", "sp ace", "/lead"])
async def test_a_bad_branch_name_is_422_with_the_reason(api_squad, branch):
    response = await api_squad.call("POST", "/api/v1/git/branch", json={"sandbox_id": "x", "branch": branch})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "branch"


async def test_an_e2b_refusal_is_502_with_its_reason_and_stores_nothing(api_squad, fake_e2b, db_session):
    task = await api_squad.new_task()
    fake_e2b.add_fault("create_sandbox", status=401)

    response = await api_squad.call("POST", "/api/v1/sandboxes", json={"task_id": task["id"]})

    assert response.status_code == 502
    assert response.json()["service"] == "E2B"
    assert "E2B_API_KEY" in response.json()["detail"]
    assert (await db_session.scalars(select(Sandbox).where(Sandbox.task_id == task["id"]))).all() == []


async def test_e2b_failing_on_every_retry_is_503_with_retry_after(api_squad, fake_e2b, e2b_routes, runtime):
    task = await api_squad.new_task()
    fake_e2b.add_fault("create_sandbox", status=429, headers={"Retry-After": "0"})

    response = await api_squad.call("POST", "/api/v1/sandboxes", json={"task_id": task["id"]})

    assert response.status_code == 503
    assert "quota" in response.json()["detail"]
    assert response.headers["retry-after"] == "1"
    assert e2b_routes["create_sandbox"].call_count == runtime.settings.retry_attempts


async def test_a_github_failure_on_clone_is_502_naming_github(api_squad, fake_github):
    task = await api_squad.new_task()
    sandbox = await api_squad.new_sandbox(task["id"])
    fake_github.add_fault("get_repository", status=403, body={"message": "Resource not accessible"})

    response = await api_squad.call("POST", "/api/v1/git/clone", json={"sandbox_id": sandbox["id"]})

    assert response.status_code == 502
    assert response.json()["service"] == "GitHub"
    assert "Resource not accessible" in response.json()["detail"]


@pytest.mark.parametrize(
    ("step", "extra"),
    [
        ("clone", {}),
        ("branch", {"branch": "feature/x"}),
        ("commit", {"message": "m"}),
        ("push", {"branch": "feature/x"}),
    ],
)
async def test_git_on_an_unknown_sandbox_is_404_naming_it(api_squad, step, extra):
    response = await api_squad.call("POST", f"/api/v1/git/{step}", json={"sandbox_id": "no-such-sandbox", **extra})

    assert response.status_code == 404, response.text
    assert "no-such-sandbox" in response.json()["detail"]


async def test_a_push_github_rejects_is_409_with_gits_reason_and_the_task_keeps_no_branch(
    api_squad, fake_e2b, fake_github, db_session
):
    task = await api_squad.new_task()
    sandbox = await api_squad.new_sandbox(task["id"])
    owner, name = api_squad.owner, api_squad.repo_name
    body = {"sandbox_id": sandbox["id"]}
    for path, extra in (("clone", {}), ("branch", {"branch": "feature/late"})):
        response = await api_squad.call("POST", f"/api/v1/git/{path}", json=body | extra)
        assert response.status_code == 200, response.text
    (fake_e2b.workspace(sandbox["e2b_sandbox_id"]) / "repo" / "NOTES.md").write_text("mine\n")
    assert (await api_squad.call("POST", "/api/v1/git/commit", json=body | {"message": "Mine"})).status_code == 200
    # Someone else got there first: the branch on GitHub holds a commit the sandbox never saw.
    theirs = fake_github.commit(owner, name, "feature/late", {"THEIRS.md": "theirs\n"}, "Theirs")

    push = await api_squad.call("POST", "/api/v1/git/push", json=body | {"branch": "feature/late"})

    assert push.status_code == 409, push.text
    assert push.json()["service"] == "git" and "rejected" in push.json()["detail"]
    assert fake_github.branches(owner, name)["feature/late"] == theirs, "the rejected push changed GitHub"
    stored = await db_session.get(Task, task["id"])
    await db_session.refresh(stored)
    assert stored.branch is None
