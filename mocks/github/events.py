"""The payloads of the webhook events the fake GitHub sends, as the official description's `x-webhooks`
describes them: ping, push, pull_request (opened, edited, closed, reopened, synchronize),
pull_request_review (submitted), pull_request_review_comment (created), issue_comment (created).

`payload_builder(fake)` is what the state's HookBook calls (the app hands it in): it builds each payload
from the representations of the state's objects while the state is as the event left it.
"""

from __future__ import annotations

from typing import Any

from mocks.github.representations import (
    hook_json,
    issue_comment_json,
    issue_json,
    pull_request_json,
    repository_json,
    review_comment_json,
    review_json,
    user_json,
)
from mocks.github.reviews import IssueComment, ReviewComment
from mocks.github.state import FakeGitHub, noreply_email
from mocks.github.webhooks import ZERO_SHA, Hook, HookEvent, PayloadBuilder, Push


def payload_builder(fake: FakeGitHub) -> PayloadBuilder:
    def build(event: HookEvent, hook: Hook) -> dict[str, Any]:
        return event_payload(fake, event, hook)

    return build


def event_payload(fake: FakeGitHub, event: HookEvent, hook: Hook) -> dict[str, Any]:
    api, repo = event.api_url, event.repo
    repository = repository_json(repo, api, fake.clone_url(repo, api))
    sender = user_json(event.sender, api)
    if event.name == "ping":
        return {
            "zen": event.zen,
            "hook_id": hook.id,
            "hook": hook_json(hook, api),
            "repository": repository,
            "sender": sender,
        }
    if event.name == "push":
        assert event.push is not None
        return push_payload(fake, event, event.push, repository, sender)
    pull = event.pull
    assert pull is not None
    clone_url = fake.clone_url(repo, api)
    if event.name == "pull_request":
        payload: dict[str, Any] = {"action": event.action, "number": pull.number}
        if event.action == "synchronize":
            payload.update({"before": (event.changes or {})["before"], "after": pull.head_sha})
        elif event.action == "edited":
            payload["changes"] = event.changes or {}
        payload["pull_request"] = pull_request_json(repo, pull, api, clone_url)
        return {**payload, "repository": repository, "sender": sender}
    simple_pull = pull_request_json(repo, pull, api, clone_url, full=False)
    if event.name == "pull_request_review":
        assert event.review is not None
        review = review_json(repo, pull, event.review, api, webhook=True)
        return {"action": event.action, "review": review, "pull_request": simple_pull, **_about(repository, sender)}
    if event.name == "pull_request_review_comment":
        assert isinstance(event.comment, ReviewComment)
        comment = review_comment_json(repo, pull, event.comment, api, webhook=True)
        return {"action": event.action, "comment": comment, "pull_request": simple_pull, **_about(repository, sender)}
    if event.name == "issue_comment":
        assert isinstance(event.comment, IssueComment)
        issue = issue_json(repo, pull, api)
        comment = issue_comment_json(repo, pull, event.comment, api)
        return {"action": event.action, "issue": issue, "comment": comment, **_about(repository, sender)}
    raise ValueError(f"the fake GitHub sends no {event.name!r} events")


def _about(repository: dict[str, Any], sender: dict[str, Any]) -> dict[str, Any]:
    return {"repository": repository, "sender": sender}


def push_payload(
    fake: FakeGitHub, event: HookEvent, push: Push, repository: dict[str, Any], sender: dict[str, Any]
) -> dict[str, Any]:
    """`push`. Its repository's times are epoch seconds and its owner has a name and an e-mail address,
    as in GitHub's push payloads (and nowhere else)."""
    repo, api = event.repo, event.api_url
    html = f"{api}/{repo.full_name}"
    commits = [commit_json(fake, event, sha) for sha in push.commits]
    head_commit = None
    if push.after != ZERO_SHA:
        head_commit = (
            commits[-1] if commits and commits[-1]["id"] == push.after else commit_json(fake, event, push.after)
        )
    pushed_repository = {
        **repository,
        "created_at": int(repo.created_at.timestamp()),
        "pushed_at": int(fake.time()),
        "owner": {**repository["owner"], "name": repo.owner, "email": None},
        "stargazers": 0,
        "master_branch": repo.default_branch,
    }
    if push.before == ZERO_SHA:
        compare = f"{html}/commit/{push.after[:12]}"
    else:
        compare = f"{html}/compare/{push.before[:12]}...{push.after[:12]}"
    return {
        "ref": push.ref,
        "before": push.before,
        "after": push.after,
        "repository": pushed_repository,
        "pusher": {"name": push.pusher, "email": noreply_email(push.pusher)},
        "sender": sender,
        "created": push.before == ZERO_SHA,
        "deleted": push.after == ZERO_SHA,
        "forced": push.forced,
        "base_ref": None,
        "compare": compare,
        "commits": commits,
        "head_commit": head_commit,
    }


def commit_json(fake: FakeGitHub, event: HookEvent, sha: str) -> dict[str, Any]:
    """A commit as a push payload lists it: who wrote it, and the files it added, removed and modified."""
    git = event.repo.git
    info = git.commit_info(sha)
    return {
        "id": sha,
        "tree_id": info["tree"],
        "distinct": True,
        "message": info["message"],
        "timestamp": info["author_date"],
        "url": f"{event.api_url}/{event.repo.full_name}/commit/{sha}",
        "author": {"name": info["author_name"], "email": info["author_email"]},
        "committer": {"name": info["committer_name"], "email": info["committer_email"]},
        **git.changed_paths(sha),
    }
