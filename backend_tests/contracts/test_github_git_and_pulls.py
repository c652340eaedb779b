"""Real git against the fake GitHub over smart HTTP, then pull requests on the pushed branch."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fixtures import http
from mocks.github import FakeGitHub

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]


def authenticated_url(server_url: str, path: str, token: str) -> str:
    return server_url.replace("http://", f"http://x-access-token:{token}@", 1) + path


@pytest.fixture
def repo(fake_github: FakeGitHub) -> str:
    fake_github.create_repo("acme", "widgets")
    return "acme/widgets"


@pytest.fixture
def api(github_url: str, github_token: str):
    with http.Client(base_url=github_url, headers={"Authorization": f"Bearer {github_token}"}) as client:
        yield client


def push_branch(git, github_url: str, token: str, workdir: Path, branch: str) -> str:
    """Clone acme/widgets, commit a file on `branch`, push it; returns the commit sha."""
    git.run("clone", authenticated_url(github_url, "/acme/widgets.git", token), str(workdir))
    git.run("checkout", "-b", branch, cwd=workdir)
    (workdir / "feature.txt").write_text("done by the agent\n")
    git.run("add", "feature.txt", cwd=workdir)
    git.run("commit", "-m", "Implement the feature", cwd=workdir)
    git.run("push", "origin", branch, cwd=workdir)
    return git.run("rev-parse", "HEAD", cwd=workdir).stdout.strip()


def test_git_clone_with_a_token_gets_the_initial_commit(
    git, repo: str, github_url: str, github_token: str, tmp_path: Path
) -> None:
    git.run("clone", authenticated_url(github_url, "/acme/widgets.git", github_token), str(tmp_path / "w"))

    assert (tmp_path / "w" / "README.md").read_text() == "# widgets\n"
    assert git.run("branch", "--show-current", cwd=tmp_path / "w").stdout.strip() == "main"


def test_a_new_repository_is_a_sound_bare_repository_like_git_init_makes(
    git, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    """The fake writes a new repository's files itself; real git must find nothing wrong with them."""
    made = fake_github.create_repo("acme", "gadgets", default_branch="release/v1").git.path
    git.run("init", "--quiet", "--bare", "--template=", "--initial-branch=release/v1", str(tmp_path / "by-git"))

    def layout(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if "objects/" not in str(p.relative_to(root))}

    assert git.run("fsck", "--full", "--strict", "--no-dangling", cwd=made).stdout == ""
    assert git.run("rev-parse", "--is-bare-repository", cwd=made).stdout == "true\n"
    assert (
        git.run("config", "--local", "--list", cwd=made).stdout
        == git.run("config", "--local", "--list", cwd=tmp_path / "by-git").stdout
    )
    assert layout(made) - {"refs/heads/release", "refs/heads/release/v1"} == layout(tmp_path / "by-git")
    assert git.run("log", "--format=%an <%ae>|%s", "release/v1", cwd=made).stdout == (
        "GitHub <noreply@github.com>|Initial commit\n"
    )
    assert git.run("show", "release/v1:README.md", cwd=made).stdout == "# gadgets\n"


@pytest.mark.parametrize("credentials", ["bad-token", "none"])
def test_git_clone_without_a_valid_token_fails_authentication(
    git, repo: str, github_url: str, tmp_path: Path, credentials: str
) -> None:
    url = (
        authenticated_url(github_url, "/acme/widgets.git", "ghp_wrong")
        if credentials == "bad-token"
        else f"{github_url}/acme/widgets.git"
    )

    result = git.run("clone", url, str(tmp_path / "w"), check=False)

    assert result.returncode != 0
    expected = "Authentication failed" if credentials == "bad-token" else "could not read Username"
    assert expected in result.stderr, result.stderr


def test_pushed_branch_becomes_a_pull_request_once(
    git, repo: str, api: httpx.Client, fake_github: FakeGitHub, github_url: str, github_token: str, tmp_path: Path
) -> None:
    sha = push_branch(git, github_url, github_token, tmp_path / "w", "squad/task-1")
    request = {"title": "Task 1", "head": "squad/task-1", "base": "main", "body": "Closes task 1"}

    created = api.post("/repos/acme/widgets/pulls", json=request)
    duplicate = api.post("/repos/acme/widgets/pulls", json=request)
    listed = api.get("/repos/acme/widgets/pulls", params={"head": "acme:squad/task-1", "state": "open"})

    assert created.status_code == 201, created.text
    pull = created.json()
    assert created.headers["location"] == pull["url"] == f"{github_url}/repos/acme/widgets/pulls/1"
    assert (pull["number"], pull["state"], pull["title"], pull["body"]) == (1, "open", "Task 1", "Closes task 1")
    assert (pull["head"]["ref"], pull["head"]["sha"], pull["head"]["label"]) == (
        "squad/task-1",
        sha,
        "acme:squad/task-1",
    )
    assert pull["base"]["ref"] == "main" and pull["commits"] == 1
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["message"] == "A pull request already exists for acme:squad/task-1."
    assert [item["number"] for item in listed.json()] == [1]
    assert [commit["sha"] for commit in fake_github.branch_log("acme", "widgets", "squad/task-1")][0] == sha


def test_branch_log_admin_route_reads_the_pushed_commit(
    git, repo: str, github_url: str, github_token: str, tmp_path: Path
) -> None:
    sha = push_branch(git, github_url, github_token, tmp_path / "w", "squad/task-2")

    response = http.get(f"{github_url}/_fake/repos/acme/widgets/branches/squad/task-2/log")

    assert response.status_code == 200
    assert response.json()["commits"][0] == {"sha": sha, "message": "Implement the feature"}
    assert response.json()["commits"][-1]["message"] == "Initial commit"


@pytest.mark.parametrize(
    ("request_body", "expected_error"),
    [
        (
            {"title": "T", "head": "no-such-branch", "base": "main"},
            {"resource": "PullRequest", "field": "head", "code": "invalid"},
        ),
        (
            {"title": "T", "head": "main", "base": "main"},
            {"resource": "PullRequest", "code": "custom", "message": "No commits between main and main"},
        ),
        (
            {"title": "T", "head": "same-as-main", "base": "main"},
            {"resource": "PullRequest", "code": "custom", "message": "No commits between main and same-as-main"},
        ),
        (
            {"title": "T", "head": "main", "base": "no-such-base"},
            {"resource": "PullRequest", "field": "base", "code": "invalid"},
        ),
        ({"head": "main", "base": "main"}, {"resource": "PullRequest", "code": "missing_field", "field": "title"}),
    ],
    ids=["unknown-head", "head-equals-base", "no-commits-between", "unknown-base", "no-title"],
)
def test_pull_requests_github_would_refuse_get_422_validation_failed(
    repo: str, api: httpx.Client, fake_github: FakeGitHub, request_body: dict[str, str], expected_error: dict[str, str]
) -> None:
    fake_github.create_branch("acme", "widgets", "same-as-main")

    response = api.post("/repos/acme/widgets/pulls", json=request_body)

    assert response.status_code == 422
    body = response.json()
    assert (body["message"], body["errors"], body["status"]) == ("Validation Failed", [expected_error], "422")
    assert body["documentation_url"] == "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"


def test_clone_url_points_at_the_git_server(repo: str, api: httpx.Client, github_url: str) -> None:
    body = api.get("/repos/acme/widgets").json()

    assert (body["full_name"], body["default_branch"]) == ("acme/widgets", "main")
    assert body["clone_url"] == f"{github_url}/acme/widgets.git"


def test_a_push_behind_the_remote_is_rejected_by_real_git_as_non_fast_forward(
    git, repo: str, fake_github: FakeGitHub, github_url: str, github_token: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "w"
    git.run("clone", authenticated_url(github_url, "/acme/widgets.git", github_token), str(workdir))
    remote_sha = fake_github.commit("acme", "widgets", "main", {"theirs.txt": "pushed by someone else\n"})
    (workdir / "ours.txt").write_text("ours\n")
    git.run("add", "ours.txt", cwd=workdir)
    git.run("commit", "-m", "Ours", cwd=workdir)

    unfetched = git.run("push", "origin", "main", cwd=workdir, check=False)
    git.run("fetch", "origin", cwd=workdir)
    fetched = git.run("push", "origin", "main", cwd=workdir, check=False)
    forced = git.run("push", "--force", "origin", "main", cwd=workdir, check=False)

    assert unfetched.returncode != 0 and "! [rejected]        main -> main (fetch first)" in unfetched.stderr
    assert fetched.returncode != 0 and "! [rejected]        main -> main (non-fast-forward)" in fetched.stderr
    assert "Updates were rejected because the tip of your current branch is behind" in fetched.stderr
    assert forced.returncode == 0, "an unprotected branch accepts a force push, as on GitHub"
    assert fake_github.branch_log("acme", "widgets", "main")[0]["message"] == "Ours"
    assert remote_sha not in [commit["sha"] for commit in fake_github.branch_log("acme", "widgets", "main")]


def test_a_push_with_a_bad_token_fails_authentication(
    git, repo: str, github_url: str, github_token: str, tmp_path: Path
) -> None:
    workdir = tmp_path / "w"
    git.run("clone", authenticated_url(github_url, "/acme/widgets.git", github_token), str(workdir))
    git.run(
        "remote", "set-url", "origin", authenticated_url(github_url, "/acme/widgets.git", "ghp_revoked"), cwd=workdir
    )
    git.run("checkout", "-b", "feature", cwd=workdir)

    result = git.run("push", "origin", "feature", cwd=workdir, check=False)

    assert result.returncode != 0
    assert "Authentication failed" in result.stderr, result.stderr
