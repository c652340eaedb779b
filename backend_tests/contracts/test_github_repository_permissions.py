"""A token's role on a repository, as GitHub applies it: what GET /repos says it may do, what git lets
it push, and a repository it may not see at all answering 404 everywhere; and a repository deleted
through the admin API, gone for the API and for git."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import http
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL
from mocks.github.state import ROLES

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

READ_ONLY = "ghp_readonly_contract_token"


@pytest.fixture
def widgets(fake_github: FakeGitHub, github_token: str) -> str:
    fake_github.add_token(READ_ONLY)
    fake_github.create_repo("acme", "widgets")
    return "acme/widgets"


def get_repository(github_url: str, token: str, full_name: str = "acme/widgets"):
    return http.get(f"{github_url}/repos/{full_name}", headers={"Authorization": f"Bearer {token}"})


def clone_url(github_url: str, token: str) -> str:
    return github_url.replace("http://", f"http://x-access-token:{token}@", 1) + "/acme/widgets.git"


def test_a_token_nobody_set_a_role_for_may_push(widgets, github_url: str, github_token: str, github_schema) -> None:
    response = get_repository(github_url, github_token)

    assert response.status_code == 200
    assert response.json()["permissions"] == {
        "admin": False,
        "maintain": False,
        "push": True,
        "triage": True,
        "pull": True,
    }
    github_schema(response.json(), "full-repository")


@pytest.mark.parametrize("role", [role for role in ROLES if role != "none"])
def test_get_repository_shows_the_asking_tokens_own_permissions(
    widgets, fake_github: FakeGitHub, github_url: str, github_token: str, github_schema, role: str
) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, role)

    mine = get_repository(github_url, READ_ONLY).json()["permissions"]
    default = get_repository(github_url, github_token).json()["permissions"]

    granted = ROLES[1 : ROLES.index(role) + 1]
    assert mine == {key: key in granted for key in ("admin", "maintain", "push", "triage", "pull")}
    assert default["push"] is True, "a role set for one token changed another's"
    github_schema(get_repository(github_url, READ_ONLY).json(), "full-repository")


def test_a_repository_a_token_has_no_access_to_is_404_on_every_call(
    widgets, fake_github: FakeGitHub, github_url: str, git, tmp_path: Path
) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, "none")
    headers = {"Authorization": f"Bearer {READ_ONLY}"}

    answers = [
        http.get(f"{github_url}/repos/acme/widgets{path}", headers=headers).status_code
        for path in ("", "/pulls", "/branches/main", "/git/ref/heads/main")
    ]
    cloned = git.run("clone", clone_url(github_url, READ_ONLY), str(tmp_path / "w"), check=False)

    assert answers == [404, 404, 404, 404]
    assert cloned.returncode != 0 and "not found" in cloned.stderr.lower(), cloned.stderr


def test_a_read_only_token_clones_but_its_push_is_denied_as_github_denies_it(
    widgets, fake_github: FakeGitHub, github_url: str, git, tmp_path: Path
) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, "pull")
    workdir = tmp_path / "w"
    git.run("clone", clone_url(github_url, READ_ONLY), str(workdir))
    git.run("checkout", "-b", "agent/task-1", cwd=workdir)
    (workdir / "x.txt").write_text("x\n")
    git.run("add", "x.txt", cwd=workdir)
    git.run("commit", "-m", "x", cwd=workdir)

    pushed = git.run("push", "origin", "agent/task-1", cwd=workdir, check=False)

    assert pushed.returncode != 0
    assert "Permission to acme/widgets.git denied to" in pushed.stderr, pushed.stderr
    assert "403" in pushed.stderr, pushed.stderr
    assert "agent/task-1" not in fake_github.branches("acme", "widgets")


def test_giving_the_push_role_back_lets_the_push_through(
    widgets, fake_github: FakeGitHub, github_url: str, git, tmp_path: Path
) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, "pull")
    fake_github.set_permission("acme", "widgets", READ_ONLY, "push")
    workdir = tmp_path / "w"
    git.run("clone", clone_url(github_url, READ_ONLY), str(workdir))
    git.run("checkout", "-b", "agent/task-2", cwd=workdir)
    git.run("commit", "--allow-empty", "-m", "y", cwd=workdir)

    git.run("push", "origin", "agent/task-2", cwd=workdir)

    assert "agent/task-2" in fake_github.branches("acme", "widgets")


def test_the_admin_api_sets_a_role_and_refuses_what_it_cannot_set(widgets, github_url: str) -> None:
    set_role = f"{github_url}/_fake/repos/acme/widgets/permissions"

    made = http.post(set_role, json={"token": READ_ONLY, "permission": "pull"})
    unknown_role = http.post(set_role, json={"token": READ_ONLY, "permission": "write"})
    no_token = http.post(set_role, json={"permission": "pull"})
    no_repository = http.post(
        f"{github_url}/_fake/repos/acme/nothing/permissions", json={"token": READ_ONLY, "permission": "pull"}
    )

    assert made.status_code == 200 and made.json()["permissions"]["push"] is False, made.text
    assert READ_ONLY not in made.text, "the admin API echoed the token"
    assert get_repository(github_url, READ_ONLY).json()["permissions"]["push"] is False
    assert unknown_role.status_code == 400 and "write" in unknown_role.json()["error"]
    assert no_token.status_code == 400
    assert no_repository.status_code == 404


def test_the_state_dump_shows_roles_without_the_tokens(widgets, fake_github: FakeGitHub) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, "triage")

    dump = fake_github.snapshot()

    [repository] = dump["repositories"]
    assert repository["roles_set"] == ["triage"]
    assert READ_ONLY not in str(dump)


def test_reset_forgets_the_roles(fake_github: FakeGitHub) -> None:
    fake_github.add_token(READ_ONLY)
    fake_github.create_repo("acme", "widgets")
    fake_github.set_permission("acme", "widgets", READ_ONLY, "none")
    fake_github.reset()
    fake_github.create_repo("acme", "widgets")

    assert fake_github.repository("acme", "widgets", READ_ONLY).role(READ_ONLY) == "push"


def test_setting_an_unknown_role_or_on_an_unknown_repository_raises(fake_github: FakeGitHub) -> None:
    fake_github.create_repo("acme", "widgets")

    with pytest.raises(ValueError, match="unknown role"):
        fake_github.set_permission("acme", "widgets", READ_ONLY, "write")
    with pytest.raises(KeyError):
        fake_github.set_permission("acme", "nothing", READ_ONLY, "pull")


async def test_the_role_holds_in_process_through_respx_too(widgets, fake_github: FakeGitHub, github_routes) -> None:
    fake_github.set_permission("acme", "widgets", READ_ONLY, "pull")
    headers = {"Authorization": f"Bearer {READ_ONLY}"}

    async with http.AsyncClient(base_url=GITHUB_API_URL, headers=headers) as client:
        response = await client.get("/repos/acme/widgets")

    assert response.json()["permissions"]["push"] is False


def test_a_deleted_repository_is_gone_for_the_api_and_for_git(
    widgets, fake_github: FakeGitHub, github_url: str, github_token: str, git, tmp_path: Path
) -> None:
    deleted = http.request("DELETE", f"{github_url}/_fake/repos/acme/widgets")
    again = http.request("DELETE", f"{github_url}/_fake/repos/acme/widgets")

    cloned = git.run("clone", clone_url(github_url, github_token), str(tmp_path / "w"), check=False)
    assert deleted.status_code == 204 and again.status_code == 404
    assert get_repository(github_url, github_token).status_code == 404
    assert cloned.returncode != 0 and "not found" in cloned.stderr.lower(), cloned.stderr
    assert fake_github.repos() == []
