"""Reviews, comments, merges, closing and reopening on the fake GitHub, as its REST API answers them.

A second user's token plays the reviewer. Every response is checked against the official description by
the suite's guard; merges are checked in the bare repository with real git.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from backend_tests.contracts.github_errors import assert_github_error
from fixtures import http
from mocks.github import FakeGitHub

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

SchemaCheck = Callable[..., None]  # the github_schema fixture: (instance, schema name, array=False)
REVIEWER = "rita-reviewer"
REVIEWER_TOKEN = "ghp_contract_reviewer_token"
GUIDE = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\n"


@pytest.fixture
def widgets(fake_github: FakeGitHub) -> str:
    fake_github.create_repo("acme", "widgets")
    fake_github.commit("acme", "widgets", "main", {"guide.txt": GUIDE}, "Add the guide")
    return "/repos/acme/widgets"


def assert_refused(response: httpx.Response, resource: str, field: str, message: str) -> None:
    """GitHub's 422 for what it will not do: one `custom` error, naming the resource and the field."""
    assert response.status_code == 422
    assert response.json()["errors"] == [{"resource": resource, "code": "custom", "field": field, "message": message}]


def client(github_url: str, token: str) -> httpx.Client:
    return http.Client(base_url=github_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def bot(github_url: str, github_token: str) -> Iterator[httpx.Client]:
    """The platform's own user: it opens the pull requests."""
    with client(github_url, github_token) as api:
        yield api


@pytest.fixture
def reviewer(fake_github: FakeGitHub, github_url: str) -> Iterator[httpx.Client]:
    fake_github.add_token(REVIEWER_TOKEN, REVIEWER)
    with client(github_url, REVIEWER_TOKEN) as api:
        yield api


def open_pull(fake: FakeGitHub, bot: httpx.Client, branch: str, files: dict[str, str], title: str = "Task") -> dict:
    fake.commit("acme", "widgets", branch, files, f"Work on {branch}")
    response = bot.post("/repos/acme/widgets/pulls", json={"title": title, "head": branch, "base": "main"})
    assert response.status_code == 201, response.text
    return response.json()


def guide_with(line: int, text: str) -> str:
    lines = GUIDE.splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


# -- reviews -------------------------------------------------------------------------------------------
def test_a_reviewer_requests_changes_with_a_comment_on_a_changed_line(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client, github_schema: SchemaCheck
) -> None:
    pull = open_pull(fake_github, bot, "squad/task-1", {"guide.txt": guide_with(5, "line five")})
    review = {
        "event": "REQUEST_CHANGES",
        "body": "Spell it as a number",
        "comments": [{"path": "guide.txt", "line": 5, "body": "5, please"}],
    }

    created = reviewer.post(f"{widgets}/pulls/1/reviews", json=review)
    listed = reviewer.get(f"{widgets}/pulls/1/reviews")
    one = reviewer.get(f"{widgets}/pulls/1/reviews/{created.json()['id']}")
    comments = reviewer.get(f"{widgets}/pulls/1/comments")
    after = bot.get(f"{widgets}/pulls/1")

    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["state"], body["body"], body["user"]["login"]) == ("CHANGES_REQUESTED", review["body"], REVIEWER)
    assert body["commit_id"] == pull["head"]["sha"] and body["submitted_at"]
    assert [item["id"] for item in listed.json()] == [body["id"]] and one.json() == body
    comment = comments.json()[0]
    assert (comment["path"], comment["line"], comment["side"], comment["body"]) == (
        "guide.txt",
        5,
        "RIGHT",
        "5, please",
    )
    assert comment["pull_request_review_id"] == body["id"]
    assert comment["diff_hunk"].startswith("@@ ") and comment["diff_hunk"].endswith("+line five")
    assert comment["position"] == comment["diff_hunk"].count("\n")  # lines below the hunk header
    assert after.json()["review_comments"] == 1
    github_schema(comments.json(), "pull-request-review-comment", array=True)


@pytest.mark.parametrize(
    ("event", "refusal"),
    [
        ("APPROVE", "Can not approve your own pull request"),
        ("REQUEST_CHANGES", "Can not request changes on your own pull request"),
    ],
)
def test_the_author_cannot_approve_or_request_changes_on_their_own_pull_request(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, event: str, refusal: str
) -> None:
    open_pull(fake_github, bot, "squad/task-2", {"new.txt": "new\n"})

    response = bot.post(f"{widgets}/pulls/1/reviews", json={"event": event, "body": "looks fine to me"})

    assert response.status_code == 422
    assert response.json() == {
        "message": "Unprocessable Entity",
        "errors": [refusal],
        "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
        "status": "422",
    }
    assert fake_github.pull_requests("acme", "widgets")[0].reviews == []


def test_the_author_may_comment_and_another_user_may_approve(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-3", {"new.txt": "new\n"})

    commented = bot.post(f"{widgets}/pulls/1/reviews", json={"event": "COMMENT", "body": "Ready"})
    approved = reviewer.post(f"{widgets}/pulls/1/reviews", json={"event": "APPROVE"})

    assert (commented.status_code, commented.json()["state"]) == (200, "COMMENTED")
    assert (approved.status_code, approved.json()["state"], approved.json()["body"]) == (200, "APPROVED", "")


def test_a_comment_review_needs_a_body(fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer) -> None:
    open_pull(fake_github, bot, "squad/task-4", {"new.txt": "new\n"})

    response = reviewer.post(f"{widgets}/pulls/1/reviews", json={"event": "COMMENT"})

    assert response.status_code == 422
    assert response.json()["message"] == "Unprocessable Entity"


def test_comments_on_lines_outside_the_diff_are_refused_as_github_refuses_them(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    pull = open_pull(fake_github, bot, "squad/task-5", {"guide.txt": guide_with(1, "line one")})
    far_away = {"path": "guide.txt", "line": 9, "body": "not in the diff"}

    single = reviewer.post(f"{widgets}/pulls/1/comments", json={**far_away, "commit_id": pull["head"]["sha"]})
    in_review = reviewer.post(f"{widgets}/pulls/1/reviews", json={"event": "COMMENT", "comments": [far_away]})

    assert_refused(single, "PullRequestReviewComment", "pull_request_review_thread.line", "could not be resolved")
    assert (in_review.status_code, in_review.json()["errors"]) == (422, ["Line could not be resolved"])
    assert reviewer.get(f"{widgets}/pulls/1/comments").json() == []


def test_a_reply_sits_where_the_comment_it_answers_sits(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client, github_schema: SchemaCheck
) -> None:
    pull = open_pull(fake_github, bot, "squad/task-6", {"guide.txt": guide_with(3, "line three")})
    first = reviewer.post(
        f"{widgets}/pulls/1/comments",
        json={"body": "Why?", "commit_id": pull["head"]["sha"], "path": "guide.txt", "line": 3, "side": "RIGHT"},
    )

    reply = bot.post(f"{widgets}/pulls/1/comments", json={"body": "Because", "in_reply_to": first.json()["id"]})

    assert first.status_code == 201 and first.headers["location"] == first.json()["url"]
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert answer["in_reply_to_id"] == first.json()["id"] and answer["user"]["login"] == fake_github.user_login
    assert (answer["path"], answer["line"], answer["diff_hunk"]) == ("guide.txt", 3, first.json()["diff_hunk"])
    assert answer["pull_request_review_id"] not in (None, first.json()["pull_request_review_id"])
    github_schema(answer, "pull-request-review-comment")


def test_conversation_comments_are_the_pull_requests_issue_comments(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-7", {"new.txt": "new\n"})

    created = reviewer.post("/repos/acme/widgets/issues/1/comments", json={"body": "Nice work"})
    listed = bot.get("/repos/acme/widgets/issues/1/comments")
    missing = bot.post("/repos/acme/widgets/issues/99/comments", json={"body": "Anyone?"})

    assert created.status_code == 201 and created.headers["location"] == created.json()["url"]
    assert created.json()["issue_url"].endswith("/repos/acme/widgets/issues/1")
    assert [(item["user"]["login"], item["body"]) for item in listed.json()] == [(REVIEWER, "Nice work")]
    assert bot.get(f"{widgets}/pulls/1").json()["comments"] == 1
    assert missing.status_code == 404


# -- merges ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "parents", "subject"),
    [
        ("merge", 2, "Merge pull request #1 from acme/squad/task-8"),
        ("squash", 1, "Task eight (#1)"),
        ("rebase", 1, "Work on squad/task-8"),
    ],
)
def test_a_merge_puts_the_pull_requests_work_on_the_base_branch_with_real_git(
    git,
    fake_github: FakeGitHub,
    widgets: str,
    bot: httpx.Client,
    reviewer: httpx.Client,
    github_url: str,
    github_token: str,
    tmp_path: Path,
    method: str,
    parents: int,
    subject: str,
) -> None:
    pull = open_pull(fake_github, bot, "squad/task-8", {"feature.txt": "done by the agent\n"}, title="Task eight")
    fake_github.commit("acme", "widgets", "main", {"other.txt": "meanwhile on main\n"}, "Meanwhile")
    bare = fake_github.get_repo("acme", "widgets").git.path  # type: ignore[union-attr]

    merged = reviewer.put(f"{widgets}/pulls/1/merge", json={"merge_method": method, "sha": pull["head"]["sha"]})
    checked = reviewer.get(f"{widgets}/pulls/1/merge")
    after = reviewer.get(f"{widgets}/pulls/1").json()

    assert merged.status_code == 200, merged.text
    assert merged.json() == {"sha": merged.json()["sha"], "merged": True, "message": "Pull Request successfully merged"}
    tip = git.run("rev-parse", "main", cwd=bare).stdout.strip()
    assert merged.json()["sha"] == tip == after["merge_commit_sha"]
    assert len(git.run("log", "-1", "--format=%P", "main", cwd=bare).stdout.split()) == parents
    assert git.run("log", "-1", "--format=%s", "main", cwd=bare).stdout.strip() == subject
    assert git.run("show", "main:feature.txt", cwd=bare).stdout == "done by the agent\n"
    assert git.run("show", "main:other.txt", cwd=bare).stdout == "meanwhile on main\n"
    assert (after["state"], after["merged"], after["merged_by"]["login"]) == ("closed", True, REVIEWER)
    assert after["merged_at"] and after["closed_at"] and after["mergeable"] is None
    assert checked.status_code == 204 and checked.content == b""
    clone = tmp_path / "clone"
    url = github_url.replace("http://", f"http://x-access-token:{github_token}@", 1) + "/acme/widgets.git"
    git.run("clone", url, str(clone))
    assert (clone / "feature.txt").read_text() == "done by the agent\n"


def test_a_merge_commit_is_the_mergers_and_takes_the_title_and_message_given(
    git, fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-9", {"feature.txt": "x\n"})
    bare = fake_github.get_repo("acme", "widgets").git.path  # type: ignore[union-attr]

    merged = reviewer.put(f"{widgets}/pulls/1/merge", json={"commit_title": "Ship it", "commit_message": "All done"})

    assert merged.status_code == 200, merged.text
    shown = git.run("log", "-1", "--format=%an|%ae|%cn|%B", "main", cwd=bare).stdout.strip()
    author, email, committer, message = shown.split("|", 3)
    assert (author, committer, message) == (REVIEWER, "GitHub", "Ship it\n\nAll done")
    assert email.endswith(f"+{REVIEWER}@users.noreply.github.com")


def test_a_conflicting_pull_request_is_not_mergeable(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-10", {"guide.txt": guide_with(2, "ours")})
    fake_github.commit("acme", "widgets", "main", {"guide.txt": guide_with(2, "theirs")}, "Theirs")

    shown = bot.get(f"{widgets}/pulls/1").json()
    merged = reviewer.put(f"{widgets}/pulls/1/merge", json={})

    assert (shown["mergeable"], shown["mergeable_state"]) == (False, "dirty")
    assert_github_error(
        merged, 405, "Pull Request is not mergeable", "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
    )
    assert bot.get(f"{widgets}/pulls/1/merge").status_code == 404


def test_a_merge_of_another_head_than_the_one_reviewed_is_refused(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    pull = open_pull(fake_github, bot, "squad/task-11", {"a.txt": "a\n"})
    fake_github.commit("acme", "widgets", "squad/task-11", {"b.txt": "b\n"}, "One more")

    merged = reviewer.put(f"{widgets}/pulls/1/merge", json={"sha": pull["head"]["sha"]})

    assert merged.status_code == 409
    assert merged.json()["message"] == "Head branch was modified. Review and try the merge again."
    assert fake_github.pull_requests("acme", "widgets")[0].state == "open"


@pytest.mark.parametrize("how", ["merged", "closed"])
def test_a_pull_request_no_longer_open_is_not_mergeable(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client, how: str
) -> None:
    open_pull(fake_github, bot, "squad/task-12", {"a.txt": "a\n"})
    if how == "merged":
        assert reviewer.put(f"{widgets}/pulls/1/merge", json={}).status_code == 200
    else:
        assert bot.patch(f"{widgets}/pulls/1", json={"state": "closed"}).status_code == 200

    again = reviewer.put(f"{widgets}/pulls/1/merge", json={})

    assert (again.status_code, again.json()["message"]) == (405, "Pull Request is not mergeable")


def test_an_unknown_merge_method_is_refused_by_the_request_schema(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-13", {"a.txt": "a\n"})

    response = bot.put(f"{widgets}/pulls/1/merge", json={"merge_method": "octopus"})

    assert response.status_code == 422
    assert response.json()["message"] == (
        'Invalid request.\n\nFor \'properties/merge_method\', "octopus" is not one of ["merge", "squash", "rebase"].'
    )


# -- closing, reopening, editing -----------------------------------------------------------------------
def test_a_pull_request_is_closed_edited_and_reopened(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, github_schema: SchemaCheck
) -> None:
    open_pull(fake_github, bot, "squad/task-14", {"a.txt": "a\n"})
    fake_github.create_branch("acme", "widgets", "release")

    closed = bot.patch(f"{widgets}/pulls/1", json={"state": "closed"})
    edited = bot.patch(f"{widgets}/pulls/1", json={"title": "Better title", "body": "Details", "base": "release"})
    reopened = bot.patch(f"{widgets}/pulls/1", json={"state": "open"})

    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["merged"], closed.json()["merged_at"]) == ("closed", False, None)
    assert closed.json()["closed_at"]
    assert (edited.json()["title"], edited.json()["body"], edited.json()["base"]["ref"]) == (
        "Better title",
        "Details",
        "release",
    )
    assert (reopened.json()["state"], reopened.json()["closed_at"]) == ("open", None)
    github_schema(reopened.json(), "pull-request")


def test_a_merged_pull_request_cannot_be_reopened(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client
) -> None:
    open_pull(fake_github, bot, "squad/task-15", {"a.txt": "a\n"})
    assert reviewer.put(f"{widgets}/pulls/1/merge", json={}).status_code == 200

    response = bot.patch(f"{widgets}/pulls/1", json={"state": "open"})

    assert_refused(response, "PullRequest", "state", "state cannot be changed. The pull request cannot be reopened.")


def test_an_unknown_state_or_base_is_refused(fake_github: FakeGitHub, widgets: str, bot: httpx.Client) -> None:
    open_pull(fake_github, bot, "squad/task-16", {"a.txt": "a\n"})

    bad_state = bot.patch(f"{widgets}/pulls/1", json={"state": "merged"})
    bad_base = bot.patch(f"{widgets}/pulls/1", json={"base": "no-such-branch"})

    assert bad_state.status_code == 422 and bad_state.json()["message"].startswith("Invalid request.")
    assert (bad_base.status_code, bad_base.json()["errors"]) == (
        422,
        [{"resource": "PullRequest", "field": "base", "code": "invalid"}],
    )


# -- users ----------------------------------------------------------------------------------------------
def test_each_token_acts_as_its_own_user(fake_github: FakeGitHub, github_url: str, bot: httpx.Client) -> None:
    added = http.post(f"{github_url}/_fake/users", json={"login": "olga-ops", "token": "ghp_olga"})
    fake_github.create_repo("acme", "widgets")
    fake_github.commit("acme", "widgets", "squad/task-17", {"a.txt": "a\n"})

    with client(github_url, "ghp_olga") as olga:
        opened = olga.post("/repos/acme/widgets/pulls", json={"title": "T", "head": "squad/task-17", "base": "main"})
        own_approval = olga.post("/repos/acme/widgets/pulls/1/reviews", json={"event": "APPROVE"})
    approval = bot.post("/repos/acme/widgets/pulls/1/reviews", json={"event": "APPROVE"})
    users = http.get(f"{github_url}/_fake/users").json()

    assert added.status_code == 201 and added.json()["login"] == "olga-ops"
    assert opened.json()["user"]["login"] == "olga-ops"
    assert own_approval.status_code == 422
    assert (approval.status_code, approval.json()["user"]["login"]) == (200, fake_github.user_login)
    assert {"login": "olga-ops", "id": added.json()["id"]} in users


def test_reviews_and_comments_count_against_the_secondary_limit_on_creating_content(
    fake_github: FakeGitHub, widgets: str, bot: httpx.Client, reviewer: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_pull(fake_github, bot, "squad/task-18", {"a.txt": "a\n"})
    monkeypatch.setattr(fake_github.rate_limits, "content_creation_per_minute", 2)

    comment = reviewer.post(f"{widgets}/issues/1/comments", json={"body": "one"})
    review = reviewer.post(f"{widgets}/pulls/1/reviews", json={"event": "COMMENT", "body": "two"})
    third = reviewer.post(f"{widgets}/issues/1/comments", json={"body": "three"})

    assert (comment.status_code, review.status_code, third.status_code) == (201, 200, 403)
    assert third.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert int(third.headers["retry-after"]) > 0


def test_an_exhausted_rate_limit_names_the_tokens_own_user(
    fake_github: FakeGitHub, widgets: str, reviewer: httpx.Client, github_url: str
) -> None:
    fake_github.set_rate_limit(REVIEWER_TOKEN, remaining=0)
    users = {user["login"]: user["id"] for user in http.get(f"{github_url}/_fake/users").json()}

    limited = reviewer.get(widgets)

    assert limited.status_code == 403
    assert limited.json()["message"] == f"API rate limit exceeded for user ID {users[REVIEWER]}."
