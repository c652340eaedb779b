"""The JSON GitHub returns for users, repositories and pull requests (schemas of the OpenAPI description:
simple-user, repository / full-repository, pull-request / pull-request-simple, rate-limit-overview), the
`link` header of a page of them, and the web page a pull request's html_url opens.

`api` is the base URL the request came to (https://api.github.com on GitHub); the fake has no separate
web host, so html_url points at the same base (the fake serves a small page for pull requests).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from mocks.github.rate_limits import RateWindow
from mocks.github.reviews import IssueComment, Review, ReviewComment
from mocks.github.state import DEFAULT_ROLE, ROLES, Branch, PullRequest, PullRequestPage, Repository, login_id
from mocks.github.webhooks import Delivery, Hook

# The `permissions` object's keys, weakest first: a role grants its own key and every weaker one.
PERMISSION_KEYS = ("pull", "triage", "push", "maintain", "admin")


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def optional_timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def node_id(prefix: str, number: int) -> str:
    return f"{prefix}_" + base64.b64encode(f"fake:{number}".encode()).decode().rstrip("=")


def user_id(login: str) -> int:
    return login_id(login)


def user_json(login: str, api: str, *, kind: str | None = None) -> dict[str, Any]:
    """`simple-user`; an app's account (a login ending in "[bot]") is a Bot, as on GitHub."""
    kind = kind or ("Bot" if login.endswith("[bot]") else "User")
    number = user_id(login)
    url = f"{api}/users/{login}"
    return {
        "login": login,
        "id": number,
        "node_id": node_id("U", number),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{api}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def permissions_json(role: str) -> dict[str, bool]:
    """`permissions` of a repository as GitHub shows it to a token with `role`."""
    strength = ROLES.index(role)
    return {key: strength >= ROLES.index(key) for key in reversed(PERMISSION_KEYS)}


def repository_json(repo: Repository, api: str, clone_url: str, role: str = DEFAULT_ROLE) -> dict[str, Any]:
    """Fields of both `repository` and `full-repository` (a superset is what GitHub sends too);
    `permissions` are those of the token that asked (`role`)."""
    url = f"{api}/repos/{repo.full_name}"
    html = f"{api}/{repo.full_name}"
    host = urlsplit(api).netloc
    open_pulls = sum(1 for pull in list(repo.pulls.values()) if pull.state == "open")  # list(): one atomic copy
    created = timestamp(repo.created_at)
    return {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": True,
        "owner": user_json(repo.owner, api, kind="Organization"),
        "html_url": html,
        "description": repo.description,
        "fork": False,
        "url": url,
        "archive_url": f"{url}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{url}/assignees{{/user}}",
        "blobs_url": f"{url}/git/blobs{{/sha}}",
        "branches_url": f"{url}/branches{{/branch}}",
        "collaborators_url": f"{url}/collaborators{{/collaborator}}",
        "comments_url": f"{url}/comments{{/number}}",
        "commits_url": f"{url}/commits{{/sha}}",
        "compare_url": f"{url}/compare/{{base}}...{{head}}",
        "contents_url": f"{url}/contents/{{+path}}",
        "contributors_url": f"{url}/contributors",
        "deployments_url": f"{url}/deployments",
        "downloads_url": f"{url}/downloads",
        "events_url": f"{url}/events",
        "forks_url": f"{url}/forks",
        "git_commits_url": f"{url}/git/commits{{/sha}}",
        "git_refs_url": f"{url}/git/refs{{/sha}}",
        "git_tags_url": f"{url}/git/tags{{/sha}}",
        "git_url": f"git://{host}/{repo.full_name}.git",
        "issue_comment_url": f"{url}/issues/comments{{/number}}",
        "issue_events_url": f"{url}/issues/events{{/number}}",
        "issues_url": f"{url}/issues{{/number}}",
        "keys_url": f"{url}/keys{{/key_id}}",
        "labels_url": f"{url}/labels{{/name}}",
        "languages_url": f"{url}/languages",
        "merges_url": f"{url}/merges",
        "milestones_url": f"{url}/milestones{{/number}}",
        "notifications_url": f"{url}/notifications{{?since,all,participating}}",
        "pulls_url": f"{url}/pulls{{/number}}",
        "releases_url": f"{url}/releases{{/id}}",
        "ssh_url": f"git@{host}:{repo.full_name}.git",
        "stargazers_url": f"{url}/stargazers",
        "statuses_url": f"{url}/statuses/{{sha}}",
        "subscribers_url": f"{url}/subscribers",
        "subscription_url": f"{url}/subscription",
        "tags_url": f"{url}/tags",
        "teams_url": f"{url}/teams",
        "trees_url": f"{url}/git/trees{{/sha}}",
        "clone_url": clone_url,
        "mirror_url": None,
        "hooks_url": f"{url}/hooks",
        "svn_url": html,
        "homepage": None,
        "language": None,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 0,
        "default_branch": repo.default_branch,
        "open_issues_count": open_pulls,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private",
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
        "permissions": permissions_json(role),
        "allow_forking": False,
        "web_commit_signoff_required": False,
        "license": None,
        "forks": 0,
        "open_issues": open_pulls,
        "watchers": 0,
        "network_count": 0,
        "subscribers_count": 0,
    }


def full_repository_json(repo: Repository, api: str, clone_url: str, role: str = DEFAULT_ROLE) -> dict[str, Any]:
    """`GET /repos/{owner}/{repo}`: the repository with what GitHub adds there (not in webhook payloads,
    whose `organization` is a login): the owning organization, and the merge settings for a token
    that may change them."""
    return {
        **repository_json(repo, api, clone_url, role),
        # Every owner here is an organization, and GitHub names it again for an organization's repository.
        "organization": user_json(repo.owner, api, kind="Organization"),
        **(merge_settings_json() if role in SETTINGS_ROLES else {}),
    }


# The roles that may change a repository's settings: GitHub shows its merge settings to them only.
SETTINGS_ROLES = ("admin", "maintain")


def merge_settings_json() -> dict[str, Any]:
    """GitHub's defaults for a new repository (the fake keeps no settings: every merge method works)."""
    return {
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_rebase_merge": True,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
        "allow_update_branch": False,
        "use_squash_pr_title_as_default": False,
        "temp_clone_token": "",
    }


def pull_request_json(
    repo: Repository, pull: PullRequest, api: str, clone_url: str, *, full: bool = True, role: str = DEFAULT_ROLE
) -> dict[str, Any]:
    """`pull-request` (full=True: GET one, POST) or `pull-request-simple` (full=False: the list)."""
    url = f"{api}/repos/{repo.full_name}"
    pull_url = f"{url}/pulls/{pull.number}"
    html = f"{api}/{repo.full_name}/pull/{pull.number}"
    issue_url = f"{url}/issues/{pull.number}"
    owner = user_json(repo.owner, api, kind="Organization")
    repository = repository_json(repo, api, clone_url, role)
    body: dict[str, Any] = {
        "url": pull_url,
        "id": pull.id,
        "node_id": node_id("PR", pull.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "commits_url": f"{pull_url}/commits",
        "review_comments_url": f"{pull_url}/comments",
        "review_comment_url": f"{url}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": f"{url}/statuses/{pull.head_sha}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": user_json(pull.user_login, api),
        "body": pull.body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": timestamp(pull.created_at),
        "updated_at": timestamp(pull.updated_at),
        "closed_at": optional_timestamp(pull.closed_at),
        "merged_at": optional_timestamp(pull.merged_at),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{repo.owner}:{pull.head_ref}",
            "ref": pull.head_ref,
            "sha": pull.head_sha,
            "user": owner,
            "repo": repository,
        },
        "base": {
            "label": f"{repo.owner}:{pull.base_ref}",
            "ref": pull.base_ref,
            "sha": pull.base_sha,
            "user": owner,
            "repo": repository,
        },
        "_links": {
            "self": {"href": pull_url},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "review_comments": {"href": f"{pull_url}/comments"},
            "review_comment": {"href": f"{url}/pulls/comments{{/number}}"},
            "commits": {"href": f"{pull_url}/commits"},
            "statuses": {"href": f"{url}/statuses/{pull.head_sha}"},
        },
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": pull.draft,
    }
    if full:
        body.update(
            {
                "merged": pull.merged,
                "mergeable": pull.mergeable,
                "rebaseable": pull.mergeable,
                "mergeable_state": pull.mergeable_state,
                "merged_by": user_json(pull.merged_by, api) if pull.merged_by else None,
                "comments": len(pull.issue_comments),
                "review_comments": len(pull.visible_review_comments()),
                "maintainer_can_modify": pull.maintainer_can_modify,
                "commits": pull.commits,
                "additions": pull.additions,
                "deletions": pull.deletions,
                "changed_files": pull.changed_files,
            }
        )
    return body


def commit_json(repo: Repository, sha: str, info: dict[str, str], api: str) -> dict[str, Any]:
    """`commit`: a commit as GitHub shows it. author/committer are null: the fake's commits are not
    linked to GitHub accounts (as on GitHub for an e-mail address no account has)."""
    url = f"{api}/repos/{repo.full_name}"
    parents = info["parents"].split()
    return {
        "sha": sha,
        "node_id": node_id("C", int(sha[:7], 16)),
        "commit": {
            "author": {"name": info["author_name"], "email": info["author_email"], "date": info["author_date"]},
            "committer": {
                "name": info["committer_name"],
                "email": info["committer_email"],
                "date": info["committer_date"],
            },
            "message": info["message"],
            "tree": {"sha": info["tree"], "url": f"{url}/git/trees/{info['tree']}"},
            "url": f"{url}/git/commits/{sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{url}/commits/{sha}",
        "html_url": f"{api}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{url}/commits/{sha}/comments",
        "author": None,
        "committer": None,
        "parents": [
            {"sha": parent, "url": f"{url}/commits/{parent}", "html_url": f"{api}/{repo.full_name}/commit/{parent}"}
            for parent in parents
        ],
    }


def branch_json(repo: Repository, branch: Branch, api: str) -> dict[str, Any]:
    """`branch-with-protection`: the fake's branches are never protected."""
    url = f"{api}/repos/{repo.full_name}/branches/{branch.name}"
    return {
        "name": branch.name,
        "commit": commit_json(repo, branch.sha, branch.commit, api),
        "_links": {"self": url, "html": f"{api}/{repo.full_name}/tree/{branch.name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/protection",
    }


def git_ref_json(repo: Repository, ref: str, sha: str, kind: str, api: str) -> dict[str, Any]:
    """`git-ref`: `ref` is below refs/, e.g. "heads/main"."""
    url = f"{api}/repos/{repo.full_name}"
    plural = {"commit": "commits", "tag": "tags"}.get(kind, f"{kind}s")
    return {
        "ref": f"refs/{ref}",
        "node_id": "REF_" + base64.b64encode(f"fake:{repo.id}:refs/{ref}".encode()).decode().rstrip("="),
        "url": f"{url}/git/refs/{ref}",
        "object": {"sha": sha, "type": kind, "url": f"{url}/git/{plural}/{sha}"},
    }


def rate_limit_json(core: RateWindow, reset_default: int) -> dict[str, Any]:
    """`rate-limit-overview`: only `core` is counted; the other resources show full windows."""

    def full(limit: int) -> dict[str, int]:
        return {"limit": limit, "used": 0, "remaining": limit, "reset": reset_default}

    return {
        "resources": {
            "core": core.to_json(),
            "search": full(30),
            "graphql": full(5000),
            "integration_manifest": full(5000),
            "code_search": full(10),
        },
        "rate": core.to_json(),
    }


def link_header(page: PullRequestPage, page_url: Callable[[int], str]) -> str | None:
    """GitHub's `link` header of a list past one page (None for a single page); `page_url(n)` is the
    request's URL asking for page n."""
    if page.last_page <= 1:
        return None

    def link(number: int, rel: str) -> str:
        return f'<{page_url(number)}>; rel="{rel}"'

    links = []
    if page.page < page.last_page:
        links += [link(page.page + 1, "next"), link(page.last_page, "last")]
    if page.page > 1:
        links += [link(1, "first"), link(page.page - 1, "prev")]
    return ", ".join(links)


NOT_FOUND_PAGE = "<h1>404</h1><p>This is not the web page you are looking for.</p>"


def pull_request_page(repo: Repository, pull: PullRequest) -> str:
    """A stand-in for github.com's pull request page, so html_url opens in a browser."""
    title = html.escape(pull.title)
    return (
        f"<!doctype html><title>{title} · Pull Request #{pull.number} · {html.escape(repo.full_name)}</title>"
        f"<h1>{title} <span>#{pull.number}</span></h1>"
        f"<p class='state'>{pull.state}</p>"
        f"<p>{html.escape(repo.owner)}:{html.escape(pull.head_ref)} → {html.escape(pull.base_ref)}</p>"
        f"<pre>{html.escape(pull.body or '')}</pre>"
    )


# -- reviews, comments, merges --------------------------------------------------------------------------
# How the fake's users stand to its repositories: it keeps no memberships, so everyone is a contributor.
AUTHOR_ASSOCIATION = "CONTRIBUTOR"


def reactions_json(url: str) -> dict[str, Any]:
    """`reaction-rollup`: the fake's comments get no reactions."""
    counts = dict.fromkeys(("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0)
    return {"url": f"{url}/reactions", "total_count": 0, **counts}


def review_json(
    repo: Repository, pull: PullRequest, review: Review, api: str, *, webhook: bool = False
) -> dict[str, Any]:
    """`pull-request-review`; in a webhook its state is in lower case ("approved"), as GitHub sends it."""
    pull_url = f"{api}/repos/{repo.full_name}/pulls/{pull.number}"
    html_url = f"{api}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review.id}"
    body: dict[str, Any] = {
        "id": review.id,
        "node_id": node_id("PRR", review.id),
        "user": user_json(review.user_login, api),
        "body": review.body,
        "state": review.state.lower() if webhook else review.state,
        "html_url": html_url,
        "pull_request_url": pull_url,
        "author_association": AUTHOR_ASSOCIATION,
        "_links": {"html": {"href": html_url}, "pull_request": {"href": pull_url}},
        "commit_id": review.commit_id,
    }
    if review.submitted_at is not None or webhook:
        body["submitted_at"] = optional_timestamp(review.submitted_at)
    if webhook:
        body["updated_at"] = optional_timestamp(review.submitted_at)
    return body


def review_comment_json(
    repo: Repository, pull: PullRequest, comment: ReviewComment, api: str, *, webhook: bool = False
) -> dict[str, Any]:
    """`pull-request-review-comment`. A file comment has no line nor position: the REST schema leaves them
    out, a webhook's says null (and, for the original position, the file's first line of the diff)."""
    url = f"{api}/repos/{repo.full_name}/pulls/comments/{comment.id}"
    html_url = f"{api}/{repo.full_name}/pull/{pull.number}#discussion_r{comment.id}"
    pull_url = f"{api}/repos/{repo.full_name}/pulls/{pull.number}"
    place = comment.anchor
    body: dict[str, Any] = {
        "url": url,
        "pull_request_review_id": comment.review_id,
        "id": comment.id,
        "node_id": node_id("PRRC", comment.id),
        "diff_hunk": place.diff_hunk,
        "path": comment.path,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "user": user_json(comment.user_login, api),
        "body": comment.body,
        "created_at": timestamp(comment.created_at),
        "updated_at": timestamp(comment.updated_at),
        "html_url": html_url,
        "pull_request_url": pull_url,
        "author_association": AUTHOR_ASSOCIATION,
        "_links": {"self": {"href": url}, "html": {"href": html_url}, "pull_request": {"href": pull_url}},
        "start_line": place.start_line,
        "original_start_line": place.start_line,
        "start_side": place.start_side,
        "side": place.side,
        "subject_type": place.subject_type,
        "reactions": reactions_json(url),
    }
    located = {
        "position": place.position,
        "original_position": place.position,
        "line": place.line,
        "original_line": place.line,
    }
    if webhook:
        body.update(located)
        body["original_position"] = place.position or 1
    else:
        body.update({key: value for key, value in located.items() if value is not None})
    if comment.in_reply_to_id is not None:
        body["in_reply_to_id"] = comment.in_reply_to_id
    return body


def issue_comment_json(repo: Repository, pull: PullRequest, comment: IssueComment, api: str) -> dict[str, Any]:
    """`issue-comment`: a comment in the pull request's conversation."""
    url = f"{api}/repos/{repo.full_name}/issues/comments/{comment.id}"
    return {
        "id": comment.id,
        "node_id": node_id("IC", comment.id),
        "url": url,
        "html_url": f"{api}/{repo.full_name}/pull/{pull.number}#issuecomment-{comment.id}",
        "body": comment.body,
        "user": user_json(comment.user_login, api),
        "created_at": timestamp(comment.created_at),
        "updated_at": timestamp(comment.updated_at),
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{pull.number}",
        "author_association": AUTHOR_ASSOCIATION,
        "performed_via_github_app": None,
        "reactions": reactions_json(url),
    }


def issue_json(repo: Repository, pull: PullRequest, api: str) -> dict[str, Any]:
    """The issue every pull request is on GitHub (same number), with the `pull_request` links that mark it one."""
    url = f"{api}/repos/{repo.full_name}/issues/{pull.number}"
    html_url = f"{api}/{repo.full_name}/pull/{pull.number}"
    return {
        "url": url,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": html_url,
        "id": pull.id,
        "node_id": node_id("I", pull.id),
        "number": pull.number,
        "title": pull.title,
        "user": user_json(pull.user_login, api),
        "labels": [],
        "state": pull.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(pull.issue_comments),
        "created_at": timestamp(pull.created_at),
        "updated_at": timestamp(pull.updated_at),
        "closed_at": optional_timestamp(pull.closed_at),
        "author_association": AUTHOR_ASSOCIATION,
        "active_lock_reason": None,
        "draft": pull.draft,
        "pull_request": {
            "url": f"{api}/repos/{repo.full_name}/pulls/{pull.number}",
            "html_url": html_url,
            "diff_url": f"{html_url}.diff",
            "patch_url": f"{html_url}.patch",
            "merged_at": optional_timestamp(pull.merged_at),
        },
        "body": pull.body,
        "reactions": reactions_json(url),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": None,
    }


def merge_result_json(sha: str) -> dict[str, Any]:
    """`pull-request-merge-result`."""
    return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


# -- webhooks -------------------------------------------------------------------------------------------
def hook_json(hook: Hook, api: str) -> dict[str, Any]:
    """`hook`: its secret is never shown, only that there is one."""
    url = f"{api}/repos/{hook.owner}/{hook.repo_name}/hooks/{hook.id}"
    config: dict[str, Any] = {
        "content_type": hook.config.content_type,
        "insecure_ssl": hook.config.insecure_ssl,
        "url": hook.config.url,
    }
    if hook.config.secret:
        config["secret"] = "********"
    return {
        "type": "Repository",
        "id": hook.id,
        "name": "web",
        "active": hook.active,
        "events": list(hook.events),
        "config": config,
        "updated_at": timestamp(hook.updated_at),
        "created_at": timestamp(hook.created_at),
        "url": url,
        "test_url": f"{url}/test",
        "ping_url": f"{url}/pings",
        "deliveries_url": f"{url}/deliveries",
        "last_response": {
            "code": hook.last_response.code,
            "status": hook.last_response.status,
            "message": hook.last_response.message,
        },
    }


def hook_config_json(hook: Hook) -> dict[str, Any]:
    """`webhook-config`."""
    return hook_json(hook, "")["config"]


def delivery_item_json(delivery: Delivery) -> dict[str, Any]:
    """`hook-delivery-item`."""
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": timestamp(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": delivery.status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": None,
        "repository_id": delivery.repository_id,
        "throttled_at": None,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """`hook-delivery`: the item, and the request and response as they went."""
    return {
        **delivery_item_json(delivery),
        "url": delivery.url,
        "request": {"headers": dict(delivery.request_headers), "payload": delivery.payload},
        "response": {"headers": dict(delivery.response_headers), "payload": delivery.response_body},
    }


def deliveries_link(next_cursor: str | None, page_url: Callable[[str], str]) -> str | None:
    """The `link` header of a page of deliveries, which GitHub pages with a cursor."""
    return None if next_cursor is None else f'<{page_url(next_cursor)}>; rel="next"'
