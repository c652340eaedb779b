"""The JSON GitHub returns for users, repositories and pull requests (schemas of the OpenAPI description:
simple-user, repository / full-repository, pull-request / pull-request-simple, rate-limit-overview), the
`link` header of a page of them, and the web page a pull request's html_url opens.

`api` is the base URL the request came to (https://api.github.com on GitHub); the fake has no separate
web host, so html_url points at the same base (the fake serves a small page for pull requests).
"""

from __future__ import annotations

import base64
import html
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from mocks.github.rate_limits import RateWindow
from mocks.github.state import DEFAULT_ROLE, ROLES, Branch, PullRequest, PullRequestPage, Repository

# The `permissions` object's keys, weakest first: a role grants its own key and every weaker one.
PERMISSION_KEYS = ("pull", "triage", "push", "maintain", "admin")


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, number: int) -> str:
    return f"{prefix}_" + base64.b64encode(f"fake:{number}".encode()).decode().rstrip("=")


def user_id(login: str) -> int:
    return zlib.crc32(login.lower().encode()) % 10_000_000 + 1  # stable per login


def user_json(login: str, api: str, *, kind: str = "User") -> dict[str, Any]:
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
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
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
                "merged": False,
                "mergeable": True,
                "rebaseable": True,
                "mergeable_state": "clean",
                "merged_by": None,
                "comments": 0,
                "review_comments": 0,
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
