"""The state model of the fake GitHub: tokens, repositories (real bare git repositories), each token's
role on a repository (GitHub's collaborators, by token), pull requests.

What GitHub would refuse raises a GitHubError carrying the status of GitHub's answer (errors.py words the
body). Plain Python: no HTTP framework here; the app (app.py) is the only HTTP front.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mocks.common.faults import RequestFacts
from mocks.common.outbound import Deliverer
from mocks.common.service import FakeService
from mocks.github.bare_repo import BareRepository, is_valid_branch_name
from mocks.github.rate_limits import (
    AUTHENTICATED_LIMIT,
    CONTENT_CREATION_PER_MINUTE,
    RateLimits,
    RateWindow,
    checked_per_minute,
)
from mocks.github.reviews import REVIEW_STATES, Anchor, FileDiff, IssueComment, Review, ReviewComment, anchor
from mocks.github.webhooks import ZERO_SHA, Delivery, Hook, HookBook, HookConfig, HookEvent, Push

DEFAULT_TOKEN = "ghp_fake_token"
DEFAULT_LOGIN = "squad-bot"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# A collaborator's role on a repository, weakest first, as GitHub names them; "none" is no access at all
# (a private repository the token cannot see: every call about it answers 404).
ROLES = ("none", "pull", "triage", "push", "maintain", "admin")
# What a token the fake accepts may do on a repository nobody set a role on: what the one user of the
# fake has always been able to do, so a test that never speaks of permissions sees no difference.
DEFAULT_ROLE = "push"


class GitHubError(Exception):
    """A request GitHub refuses: `status` is the HTTP status of its answer, the message the body's
    `message`, `errors` the items of its `errors` array (422s only: objects, or strings for some)."""

    status = 500

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFound(GitHubError, KeyError):
    """No such repository, branch, ref or pull request (GitHub answers the same for what a token may not see)."""

    status = 404

    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)


class ValidationFailed(GitHubError):
    """A pull request GitHub would refuse with 422; `errors` are the items of the `errors` array."""

    status = 422

    def __init__(self, errors: list[dict[str, Any]], message: str = "Validation Failed") -> None:
        super().__init__(message, errors)
        self.errors: list[dict[str, Any]] = errors


class Unprocessable(GitHubError):
    """A 422 whose `errors` are plain sentences, as GitHub answers a review it will not take."""

    status = 422

    def __init__(self, *errors: str) -> None:
        super().__init__("Unprocessable Entity", list(errors))


class MethodNotAllowed(GitHubError):
    """405: GitHub's answer to a merge it cannot make."""

    status = 405


class Conflict(GitHubError):
    status = 409


class RepositoryExists(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# What webhook payloads name as the API's base URL when no request gave one (a push from the Python API).
DEFAULT_API_URL = "https://api.github.com"


def login_id(login: str) -> int:
    """The account id of a login: stable across runs, as a GitHub account's id is."""
    return zlib.crc32(login.lower().encode()) % 10_000_000 + 1


def noreply_email(login: str) -> str:
    """The address GitHub puts on the commits its merge button makes for a user."""
    return f"{login_id(login)}+{login}@users.noreply.github.com"


@dataclass
class PullRequest:
    number: int
    id: int
    title: str
    body: str | None
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    user_login: str
    created_at: datetime
    updated_at: datetime
    draft: bool = False
    state: str = "open"
    maintainer_can_modify: bool = False
    # Read from git each time the pull request is shown.
    commits: int = 0
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    # What GitHub fills in once a pull request is closed or merged.
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None  # login
    merge_commit_sha: str | None = None
    # Whether the head merges into the base without a conflict (None: not known, as once closed).
    mergeable: bool | None = True
    mergeable_state: str = "clean"
    checked: tuple[str, str] | None = None  # the (base, head) shas the counts and `mergeable` are of
    reviews: list[Review] = field(default_factory=list)
    review_comments: list[ReviewComment] = field(default_factory=list)
    issue_comments: list[IssueComment] = field(default_factory=list)

    @property
    def merged(self) -> bool:
        return self.merged_at is not None

    def visible_review_comments(self) -> list[ReviewComment]:
        """The review comments of submitted reviews (a pending review's comments are its author's draft)."""
        pending = {review.id for review in self.reviews if review.state == "PENDING"}
        return [comment for comment in self.review_comments if comment.review_id not in pending]


@dataclass
class Repository:
    id: int
    owner: str
    name: str
    default_branch: str
    git: BareRepository
    created_at: datetime
    description: str | None = None
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    next_number: int = 1
    # token -> role, for the tokens whose role is not DEFAULT_ROLE (GitHub's collaborators, by token).
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def role(self, token: str | None) -> str:
        """What `token` may do here; a token that is no collaborator's (or none) has DEFAULT_ROLE."""
        return self.roles.get(token or "", DEFAULT_ROLE)

    def allows(self, token: str | None, needed: str) -> bool:
        """Whether `token`'s role here is `needed` or stronger."""
        return ROLES.index(self.role(token)) >= ROLES.index(needed)


@dataclass(frozen=True)
class PullRequestQuery:
    """The filters, order and page of GET /repos/{owner}/{repo}/pulls, as the request gave them."""

    state: str = "open"  # "open", "closed" or "all"
    head: str | None = None  # "owner:branch" or "branch"
    base: str | None = None
    sort: str = "created"  # "updated" and "long-running" sort by update time, anything else by creation
    direction: str | None = None  # "desc" is newest first; None: "desc" when sorted by "created", else "asc"
    per_page: int = 30
    page: int = 1


@dataclass(frozen=True)
class PullRequestPage:
    pulls: list[PullRequest]
    page: int
    last_page: int


@dataclass(frozen=True)
class Branch:
    name: str
    sha: str
    commit: dict[str, str]  # BareRepository.commit_info


# A push payload lists this many of the commits pushed, the newest (GitHub's limit).
MAX_PUSH_COMMITS = 2048


def commit_text(title: str, body: str) -> str:
    return f"{title}\n\n{body}" if body else title


class FakeGitHub(FakeService):
    """Repositories live in `root` as `<owner>/<name>.git`, so `git http-backend` can serve them directly."""

    extra_match_keys = frozenset({"repository"})

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        *,
        git_base_url: str | None = None,
        user_login: str = DEFAULT_LOGIN,
        rate_limit: int = AUTHENTICATED_LIMIT,
        content_creation_per_minute: int = CONTENT_CREATION_PER_MINUTE,
        latency_ms: int = 0,
        root: str | Path | None = None,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.tokens: set[str] = set(tokens)
        # Where git is served over real HTTP (clone_url); None: the URL the API request came to.
        self.git_base_url = git_base_url.rstrip("/") if git_base_url else None
        self.user_login = user_login
        self.rate_limits = RateLimits(
            rate_limit, clock=self.time, content_creation_per_minute=content_creation_per_minute
        )
        # What construction configures survives reset(); what a test changes later does not.
        self._configured_content_creation_per_minute = content_creation_per_minute
        self._owns_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="fake-github-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._repos: dict[tuple[str, str], Repository] = {}
        self._ids = itertools.count(1)
        # token -> login, for the tokens of users other than `user_login` (whose are all the others).
        self._logins: dict[str, str] = {}
        self.webhooks = HookBook()
        # The API's base URL in webhook payloads of events no request caused (None: git_base_url, else GitHub's).
        self.api_url: str | None = None

    # -- credentials ----------------------------------------------------------------------------------
    def add_token(self, token: str, login: str | None = None) -> None:
        """Accept `token` from now on, as the token of `login` (default: the fake's own user, `user_login`).

        A second user's token is how a test plays the reviewer: what it does through the REST API is done
        by that login (a review of the bot's pull request, a comment, a merge), and webhooks name it.
        """
        if login is not None and not NAME_PATTERN.match(login.removesuffix("[bot]")):
            raise ValueError(f"invalid login: {login!r}")
        with self._lock:
            self.tokens.add(token)
            if login is None or login == self.user_login:
                self._logins.pop(token, None)
            else:
                self._logins[token] = login

    def is_valid_token(self, token: str | None) -> bool:
        with self._lock:
            return bool(token) and token in self.tokens

    def login_for(self, token: str | None) -> str:
        """The login of the user whose token this is (the fake's own user for any token not given another)."""
        with self._lock:
            return self._logins.get(token or "", self.user_login)

    def logins(self) -> list[str]:
        """Every user the fake knows: its own first, then those of the tokens added for other logins."""
        with self._lock:
            return [self.user_login, *sorted(set(self._logins.values()) - {self.user_login})]

    def set_rate_limit(
        self,
        token: str,
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset: int | None = None,
        status: int | None = None,
    ) -> None:
        """E.g. `set_rate_limit(token, remaining=0)`: the next REST call with `token` gets 403 rate limited
        (`status=429` for a 429) until the window resets (`reset`, epoch seconds of the fake's clock)."""
        self.rate_limits.set(token, remaining=remaining, limit=limit, reset=reset, status=status)

    def trip_secondary_rate_limit(self, token: str | None = None, *, retry_after: int = 60, status: int = 403) -> None:
        """From now on, for `retry_after` seconds of the fake's clock, REST calls with `token` (None: any
        token) get GitHub's secondary rate limit answer: `status` (403 or 429) with `retry-after`."""
        self.rate_limits.trip_secondary(token, retry_after, status)

    @property
    def content_creation_per_minute(self) -> int:
        """Content-creating calls (pull requests, reviews, comments) a token may make per minute before
        the secondary limit."""
        return self.rate_limits.content_creation_per_minute

    @content_creation_per_minute.setter
    def content_creation_per_minute(self, value: int) -> None:
        self.rate_limits.content_creation_per_minute = checked_per_minute(value)

    def rate_limit(self, token: str) -> RateWindow:
        return self.rate_limits.peek(token)

    # -- repositories ---------------------------------------------------------------------------------
    def create_repo(
        self, owner: str, name: str, default_branch: str = "main", *, description: str | None = None
    ) -> Repository:
        """A real bare repository with one commit (README.md) on `default_branch`."""
        for label, value in (("owner", owner), ("name", name)):
            if not NAME_PATTERN.match(value) or value.endswith(".git"):
                raise ValueError(f"invalid repository {label}: {value!r}")
        key = (owner.lower(), name.lower())
        with self._lock:
            if key in self._repos:
                raise RepositoryExists(f"{owner}/{name} already exists")
            path = self.root / owner / f"{name}.git"
            git = BareRepository.create(path, default_branch, f"# {name}\n")
            repo = Repository(next(self._ids), owner, name, default_branch, git, now(), description)
            self._repos[key] = repo
            return repo

    def delete_repo(self, owner: str, name: str) -> None:
        """The repository, its git data and its hooks are gone, as after a deletion on GitHub.
        KeyError: no repository."""
        repo = self._require(owner, name)
        with self._lock:
            self._repos.pop((repo.owner.lower(), repo.name.lower()), None)
            self.webhooks.drop_repository(repo.id)
        shutil.rmtree(repo.git.path, ignore_errors=True)

    def get_repo(self, owner: str, name: str) -> Repository | None:
        """Names are case-insensitive, as on GitHub; a trailing ".git" is ignored."""
        with self._lock:
            return self._repos.get((owner.lower(), name.removesuffix(".git").lower()))

    def repository(self, owner: str, name: str, token: str | None = None) -> Repository:
        """get_repo, raising NotFound for an unknown repository, or one `token` has no access to."""
        repo = self.get_repo(owner, name)
        if repo is None or (token is not None and not repo.allows(token, "pull")):
            raise NotFound()
        return repo

    def set_permission(self, owner: str, name: str, token: str, role: str) -> None:
        """Give `token` the role `role` (one of ROLES) on the repository: e.g. "pull" makes it read-only
        (GET says `permissions.push: false`, a git push is denied), "none" hides the repository from it
        (404, as GitHub answers for a private repository a token cannot see). KeyError: no repository."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        repo = self._require(owner, name)
        with self._lock:
            if role == DEFAULT_ROLE:
                repo.roles.pop(token, None)
            else:
                repo.roles[token] = role

    def repos(self) -> list[Repository]:
        with self._lock:
            return list(self._repos.values())

    def clone_url(self, repo: Repository, request_base_url: str) -> str:
        return f"{self.git_base_url or request_base_url.rstrip('/')}/{repo.owner}/{repo.name}.git"

    def branches(self, owner: str, name: str) -> dict[str, str]:
        return self._require(owner, name).git.branches()

    def commit(
        self,
        owner: str,
        name: str,
        branch: str,
        files: dict[str, str],
        message: str = "Update files",
        *,
        start: str | None = None,
        pusher: str | None = None,
    ) -> str:
        """Commit `files` (path -> text) on `branch` directly in the bare repository, as a push would;
        a new branch starts at `start` (default: the default branch). Returns the commit's sha.

        Like a push, it is heard by the repository's webhooks (`push`, and `pull_request` "synchronize" for
        the open pull requests of the branch), as pushed by `pusher` (default: the fake's own user)."""
        repo = self._require(owner, name)
        with self._lock:
            before = repo.git.resolve(branch) or ZERO_SHA
            sha = repo.git.commit_files(branch, files, message, start=start or repo.default_branch)
            outgoing = self._branch_moved(repo, branch, before, sha, pusher or self.user_login)
        self.webhooks.send(outgoing)
        return sha

    def create_branch(
        self, owner: str, name: str, branch: str, *, start: str | None = None, pusher: str | None = None
    ) -> str:
        """A new branch at the tip of `start` (default: the default branch), as a push of it would make."""
        repo = self._require(owner, name)
        if not is_valid_branch_name(branch):
            raise ValueError(f"invalid branch name: {branch!r}")
        sha = repo.git.resolve(start or repo.default_branch)
        if sha is None:
            raise KeyError(f"{owner}/{name} has no branch {start!r}")
        with self._lock:
            before = repo.git.resolve(branch) or ZERO_SHA
            repo.git.git("update-ref", f"refs/heads/{branch}", sha)
            outgoing = self._branch_moved(repo, branch, before, sha, pusher or self.user_login)
        self.webhooks.send(outgoing)
        return sha

    def record_push(
        self, owner: str, name: str, moved: dict[str, tuple[str, str]], pusher: str, *, api_url: str | None = None
    ) -> None:
        """What a git push did, told to the repository's webhooks: `moved` is branch -> (before, after),
        ZERO_SHA for a branch that was created (before) or deleted (after)."""
        repo = self._require(owner, name)
        with self._lock:
            outgoing = [
                delivery
                for branch, (before, after) in moved.items()
                for delivery in self._branch_moved(repo, branch, before, after, pusher, api_url)
            ]
        self.webhooks.send(outgoing)

    def get_branch(self, owner: str, name: str, branch: str) -> Branch | None:
        """The branch and its head commit, read with git; None for an unknown branch."""
        repo = self._require(owner, name)
        sha = repo.git.resolve(branch)
        if sha is None:
            return None
        return Branch(branch, sha, repo.git.commit_info(sha))

    def get_ref(self, owner: str, name: str, ref: str) -> tuple[str, str] | None:
        """(sha, object type) of a fully qualified ref below refs/ ("heads/main", "tags/v1"), or None."""
        repo = self._require(owner, name)
        if not ref or ref.startswith("/") or ".." in ref:
            return None
        return repo.git.resolve_ref(f"refs/{ref}")

    def branch_log(self, owner: str, name: str, branch: str) -> list[dict[str, str]]:
        """[{"sha", "message"}] of `branch`, newest first, read with git. KeyError for an unknown branch."""
        repo = self._require(owner, name)
        if repo.git.resolve(branch) is None:
            raise KeyError(f"{owner}/{name} has no branch {branch!r}")
        return repo.git.log(branch)

    # -- pull requests --------------------------------------------------------------------------------
    def create_pull_request(
        self,
        owner: str,
        name: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None = None,
        draft: bool = False,
        user_login: str | None = None,
        maintainer_can_modify: bool = False,
        api_url: str | None = None,
    ) -> PullRequest:
        """Open a pull request as GitHub would, or raise ValidationFailed with GitHub's errors.

        `api_url`: the API's base URL the request came to, for the URLs of the webhook payloads."""
        repo = self._require(owner, name)
        head_owner, _, head_ref = head.rpartition(":")
        if head_owner and head_owner.lower() != repo.owner.lower():
            # Cross-repository pull requests (forks) are not modelled.
            raise ValidationFailed([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        with self._lock:
            head_sha = repo.git.resolve(head_ref)
            base_sha = repo.git.resolve(base)
            errors = []
            if head_sha is None:
                errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if base_sha is None:
                errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
            if errors:
                raise ValidationFailed(errors)
            assert head_sha is not None and base_sha is not None
            label = f"{repo.owner}:{head_ref}"
            if any(
                pr.state == "open" and pr.head_ref == head_ref and pr.base_ref == base for pr in repo.pulls.values()
            ):
                message = f"A pull request already exists for {label}."
                raise ValidationFailed([{"resource": "PullRequest", "code": "custom", "message": message}])
            if repo.git.count_commits(base_sha, head_sha) == 0:
                message = f"No commits between {base} and {head_ref}"
                raise ValidationFailed([{"resource": "PullRequest", "code": "custom", "message": message}])
            created = now()
            pull = PullRequest(
                number=repo.next_number,
                id=next(self._ids),
                title=title,
                body=body,
                head_ref=head_ref,
                head_sha=head_sha,
                base_ref=base,
                base_sha=base_sha,
                user_login=user_login or self.user_login,
                created_at=created,
                updated_at=created,
                draft=draft,
                maintainer_can_modify=maintainer_can_modify,
            )
            repo.pulls[pull.number] = pull
            repo.next_number += 1
            self._refresh(repo, pull)
            outgoing = self._event("pull_request", "opened", repo, pull.user_login, api_url, pull=pull)
        self.webhooks.send(outgoing)
        return pull

    def pull_requests(self, owner: str, name: str) -> list[PullRequest]:
        """All pull requests of the repository, oldest first, with shas and counts read from git now."""
        repo = self._require(owner, name)
        with self._lock:
            pulls = list(repo.pulls.values())
            for pull in pulls:
                self._refresh(repo, pull)
            return pulls

    def list_pull_requests(self, owner: str, name: str, query: PullRequestQuery) -> PullRequestPage:
        """What GET /repos/{owner}/{repo}/pulls lists: the pull requests `query` filters for, sorted,
        the page it asks for. Raises NotFound for an unknown repository."""
        repo = self.repository(owner, name)
        pulls = self.pull_requests(repo.owner, repo.name)
        if query.head:
            head_owner, _, head_ref = query.head.rpartition(":")
            pulls = [
                pull
                for pull in pulls
                if pull.head_ref == head_ref and (not head_owner or head_owner.lower() == repo.owner.lower())
            ]
        if query.base:
            pulls = [pull for pull in pulls if pull.base_ref == query.base]
        if query.state != "all":
            pulls = [pull for pull in pulls if pull.state == query.state]
        direction = query.direction
        if direction is None:
            direction = "desc" if query.sort == "created" else "asc"
        sort_key = "updated_at" if query.sort in ("updated", "long-running") else "created_at"
        pulls.sort(key=lambda pull: (getattr(pull, sort_key), pull.number), reverse=direction == "desc")
        per_page, page = query.per_page, query.page
        return PullRequestPage(
            pulls=pulls[(page - 1) * per_page : page * per_page],
            page=page,
            last_page=max(1, -(-len(pulls) // per_page)),
        )

    def get_pull_request(self, owner: str, name: str, number: int) -> PullRequest | None:
        repo = self._require(owner, name)
        with self._lock:
            pull = repo.pulls.get(number)
            if pull is not None:
                self._refresh(repo, pull)
            return pull

    def pull_request(self, owner: str, name: str, number: int) -> tuple[Repository, PullRequest]:
        """The repository and its pull request `number`, refreshed from git; NotFound when either is missing."""
        repo = self.repository(owner, name)
        with self._lock:
            pull = repo.pulls.get(number)
            if pull is None:
                raise NotFound()
            self._refresh(repo, pull)
            return repo, pull

    def update_pull_request(
        self,
        owner: str,
        name: str,
        number: int,
        *,
        login: str | None = None,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        base: str | None = None,
        maintainer_can_modify: bool | None = None,
        api_url: str | None = None,
    ) -> PullRequest:
        """PATCH a pull request as `login`: edit title, body or base ("edited"), close it ("closed", not
        merged) or reopen it ("reopened"), with GitHub's refusals (ValidationFailed)."""
        login = login or self.user_login
        repo, pull = self.pull_request(owner, name, number)
        with self._lock:
            if base is not None and base != pull.base_ref and repo.git.resolve(base) is None:
                raise ValidationFailed([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
            if state == "open" and pull.state == "closed":
                self._check_reopen(repo, pull)
            changes: dict[str, Any] = {}
            if title is not None and title != pull.title:
                changes["title"] = {"from": pull.title}
                pull.title = title
            if body is not None and body != pull.body:
                changes["body"] = {"from": pull.body or ""}
                pull.body = body
            if base is not None and base != pull.base_ref:
                changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
                pull.base_ref = base
                pull.base_sha = repo.git.resolve(base) or pull.base_sha
            if maintainer_can_modify is not None:
                pull.maintainer_can_modify = maintainer_can_modify
            action = None
            if state == "closed" and pull.state == "open":
                action = "closed"
                pull.state, pull.closed_at = "closed", now()
                pull.mergeable, pull.mergeable_state, pull.checked = None, "unknown", None
            elif state == "open" and pull.state == "closed":
                action = "reopened"
                pull.state, pull.closed_at = "open", None
            if changes or action or maintainer_can_modify is not None:
                pull.updated_at = now()
            self._refresh(repo, pull)
            outgoing = []
            if changes:
                outgoing += self._event("pull_request", "edited", repo, login, api_url, pull=pull, changes=changes)
            if action:
                outgoing += self._event("pull_request", action, repo, login, api_url, pull=pull)
        self.webhooks.send(outgoing)
        return pull

    def _check_reopen(self, repo: Repository, pull: PullRequest) -> None:
        def refused(message: str) -> ValidationFailed:
            return ValidationFailed(
                [{"resource": "PullRequest", "code": "custom", "field": "state", "message": message}]
            )

        if pull.merged:
            raise refused("state cannot be changed. The pull request cannot be reopened.")
        if repo.git.resolve(pull.head_ref) is None:
            raise refused(f"state cannot be changed. The {pull.head_ref} branch has been deleted.")
        if any(
            other.state == "open" and other.head_ref == pull.head_ref and other.base_ref == pull.base_ref
            for other in repo.pulls.values()
        ):
            message = f"A pull request already exists for {repo.owner}:{pull.head_ref}."
            raise ValidationFailed([{"resource": "PullRequest", "code": "custom", "message": message}])

    # -- merging --------------------------------------------------------------------------------------
    def merge_pull_request(
        self,
        owner: str,
        name: str,
        number: int,
        *,
        login: str | None = None,
        merge_method: str = "merge",
        sha: str | None = None,
        commit_title: str | None = None,
        commit_message: str | None = None,
        api_url: str | None = None,
    ) -> str:
        """Merge as GitHub's merge button does, with real git: "merge" (a merge commit), "squash" (one commit
        of the head's changes) or "rebase" (the head's commits replayed); the base branch moves to the result,
        which is returned (the merge commit's sha). MethodNotAllowed (405) when it cannot be merged (a
        conflict, or closed already), Conflict (409) when `sha` is not the head's."""
        login = login or self.user_login
        repo, pull = self.pull_request(owner, name, number)
        with self._lock:
            if pull.state != "open":
                raise MethodNotAllowed("Pull Request is not mergeable")
            if sha is not None and sha != pull.head_sha:
                raise Conflict("Head branch was modified. Review and try the merge again.")
            base_before, head = pull.base_sha, pull.head_sha
            if not pull.mergeable:
                raise MethodNotAllowed("Pull Request is not mergeable")
            merged = self._merge_commit(repo, pull, login, merge_method, commit_title, commit_message)
            if not repo.git.move_branch(pull.base_ref, merged, base_before):
                raise MethodNotAllowed("Base branch was modified. Review and try the merge again.")
            moment = now()
            pull.state, pull.closed_at, pull.merged_at, pull.updated_at = "closed", moment, moment, moment
            pull.merged_by, pull.merge_commit_sha = login, merged
            pull.head_sha = head
            pull.mergeable, pull.mergeable_state, pull.checked = None, "unknown", None
            outgoing = self._branch_moved(repo, pull.base_ref, base_before, merged, login, api_url)
            outgoing += self._event("pull_request", "closed", repo, login, api_url, pull=pull)
        self.webhooks.send(outgoing)
        return merged

    def _merge_commit(
        self,
        repo: Repository,
        pull: PullRequest,
        login: str,
        method: str,
        title: str | None,
        message: str | None,
    ) -> str:
        git, base, head = repo.git, pull.base_sha, pull.head_sha
        author = (login, noreply_email(login))
        if method == "rebase":
            replayed = git.replay(base, git.commits_between(base, head))
            if replayed is None:
                raise MethodNotAllowed("This branch can't be rebased")
            return replayed
        tree = git.merge_tree(base, head)
        if tree is None:
            raise MethodNotAllowed("Pull Request is not mergeable")
        if method == "squash":
            default = "\n\n".join(f"* {git.commit_info(sha)['message']}" for sha in git.commits_between(base, head))
            text = commit_text(title or f"{pull.title} (#{pull.number})", default if message is None else message)
            return git.commit_tree(tree, [base], text, author)
        default_title = f"Merge pull request #{pull.number} from {repo.owner}/{pull.head_ref}"
        text = commit_text(title or default_title, pull.title if message is None else message)
        return git.commit_tree(tree, [base, head], text, author)

    def is_merged(self, owner: str, name: str, number: int) -> bool:
        _, pull = self.pull_request(owner, name, number)
        return pull.merged

    # -- reviews and comments ---------------------------------------------------------------------------
    def create_review(
        self,
        owner: str,
        name: str,
        number: int,
        *,
        login: str | None = None,
        event: str | None = None,
        body: str | None = None,
        commit_id: str | None = None,
        comments: Iterable[dict[str, Any]] = (),
        api_url: str | None = None,
    ) -> Review:
        """A review by `login`: `event` APPROVE, REQUEST_CHANGES or COMMENT submits it (None leaves it
        pending), `comments` ({"path", "body", "line", "side"?, "start_line"?, "start_side"?} or the older
        "position") sit on lines of the diff. Refused with GitHub's 422s (Unprocessable): approving or
        requesting changes on one's own pull request, no body where one is needed, a line not in the diff."""
        login = login or self.user_login
        comments = list(comments)
        repo, pull = self.pull_request(owner, name, number)
        with self._lock:
            if event == "APPROVE" and login == pull.user_login:
                raise Unprocessable("Can not approve your own pull request")
            if event == "REQUEST_CHANGES" and login == pull.user_login:
                raise Unprocessable("Can not request changes on your own pull request")
            if event in ("REQUEST_CHANGES", "COMMENT") and not body and not comments:
                raise Unprocessable(f"Body is required when using {event} events")
            commit = commit_id or pull.head_sha
            if not repo.git.has_commit(commit):
                raise Unprocessable("Commit SHA can't be blank and must be a commit of the pull request")
            anchors = [(spec, self._review_anchor(repo, pull, commit, spec)) for spec in comments]
            submitted = now() if event is not None else None
            review = Review(next(self._ids), login, body or "", REVIEW_STATES[event], commit, submitted)
            pull.reviews.append(review)
            added = [
                self._add_review_comment(pull, review, login, spec["path"], spec["body"], commit, place)
                for spec, place in anchors
            ]
            outgoing = []
            if event is not None:
                pull.updated_at = now()
                for comment in added:
                    outgoing += self._event(
                        "pull_request_review_comment", "created", repo, login, api_url, pull=pull, comment=comment
                    )
                outgoing += self._event(
                    "pull_request_review", "submitted", repo, login, api_url, pull=pull, review=review
                )
        self.webhooks.send(outgoing)
        return review

    def _review_anchor(self, repo: Repository, pull: PullRequest, commit: str, spec: dict[str, Any]) -> Anchor:
        diff = FileDiff(repo.git.file_diff(pull.base_sha, commit, spec["path"]))
        if diff.empty:
            raise Unprocessable("Path could not be resolved")
        if spec.get("line") is None and spec.get("position") is not None:
            entry = next((e for e in diff.entries if e.position == spec["position"]), None)
            if entry is None:
                raise Unprocessable("Position could not be resolved")
            side = "LEFT" if entry.kind == "-" else "RIGHT"
            line = entry.old_line if side == "LEFT" else entry.new_line
            return Anchor(line, side, None, None, entry.position, diff.hunk_up_to(entry))
        place = anchor(
            diff,
            line=spec.get("line"),
            side=spec.get("side") or "RIGHT",
            start_line=spec.get("start_line"),
            start_side=spec.get("start_side"),
        )
        if place is None:
            raise Unprocessable("Line could not be resolved")
        return place

    def _add_review_comment(
        self,
        pull: PullRequest,
        review: Review,
        login: str,
        path: str,
        body: str,
        commit: str,
        place: Anchor,
        in_reply_to: int | None = None,
    ) -> ReviewComment:
        moment = now()
        comment = ReviewComment(
            next(self._ids), review.id, login, body, path, commit, place, moment, moment, in_reply_to
        )
        pull.review_comments.append(comment)
        return comment

    def create_review_comment(
        self,
        owner: str,
        name: str,
        number: int,
        *,
        login: str | None = None,
        body: str,
        commit_id: str | None = None,
        path: str | None = None,
        line: int | None = None,
        side: str | None = None,
        start_line: int | None = None,
        start_side: str | None = None,
        subject_type: str = "line",
        in_reply_to: int | None = None,
        api_url: str | None = None,
    ) -> ReviewComment:
        """One review comment by `login` on a line (or, subject_type "file", on a file) of the diff at
        `commit_id`, or a reply to the comment `in_reply_to` (which then gives path, line and commit). Like
        GitHub, it comes in a review of its own ("COMMENTED"), heard as both a comment and a review."""
        login = login or self.user_login
        repo, pull = self.pull_request(owner, name, number)
        with self._lock:
            if in_reply_to is not None:
                parent = next((c for c in pull.visible_review_comments() if c.id == in_reply_to), None)
                if parent is None:
                    raise NotFound()
                path, commit, place = parent.path, parent.commit_id, parent.anchor
            else:
                commit = commit_id or pull.head_sha
                if path is None or not repo.git.has_commit(commit):
                    raise ValidationFailed(
                        [{"resource": "PullRequestReviewComment", "code": "invalid", "field": "commit_id"}]
                    )
                diff = FileDiff(repo.git.file_diff(pull.base_sha, commit, path))
                found = anchor(
                    diff,
                    line=line,
                    side=side or "RIGHT",
                    start_line=start_line,
                    start_side=start_side,
                    subject_type=subject_type,
                )
                if found is None:
                    field_name = "path" if diff.empty else "line"
                    raise ValidationFailed(
                        [
                            {
                                "resource": "PullRequestReviewComment",
                                "code": "custom",
                                "field": f"pull_request_review_thread.{field_name}",
                                "message": "could not be resolved",
                            }
                        ]
                    )
                place = found
            review = Review(next(self._ids), login, "", "COMMENTED", commit, now())
            pull.reviews.append(review)
            comment = self._add_review_comment(pull, review, login, path, body, commit, place, in_reply_to)
            pull.updated_at = now()
            outgoing = self._event(
                "pull_request_review_comment", "created", repo, login, api_url, pull=pull, comment=comment
            )
            outgoing += self._event("pull_request_review", "submitted", repo, login, api_url, pull=pull, review=review)
        self.webhooks.send(outgoing)
        return comment

    def create_issue_comment(
        self, owner: str, name: str, number: int, *, login: str | None = None, body: str, api_url: str | None = None
    ) -> IssueComment:
        """A comment in the pull request's conversation (the issue of the same number), by `login`."""
        login = login or self.user_login
        repo, pull = self.pull_request(owner, name, number)
        with self._lock:
            moment = now()
            comment = IssueComment(next(self._ids), login, body, moment, moment)
            pull.issue_comments.append(comment)
            pull.updated_at = moment
            outgoing = self._event("issue_comment", "created", repo, login, api_url, pull=pull, comment=comment)
        self.webhooks.send(outgoing)
        return comment

    # -- webhooks ---------------------------------------------------------------------------------------
    @property
    def deliverer(self) -> Deliverer | None:
        """What sends the webhook deliveries (mocks.common.deliverers); the app sets a ThreadedDeliverer
        when none is set."""
        return self.webhooks.deliverer

    @deliverer.setter
    def deliverer(self, deliverer: Deliverer | None) -> None:
        self.webhooks.deliverer = deliverer

    @contextmanager
    def delivering_with(self, deliverer: Deliverer) -> Iterator[Deliverer]:
        """Deliver with `deliverer` inside the block (e.g. an InlineDeliverer, or a LoopDeliverer on the test's
        event loop), with the previous one again after it: the fake may be shared by other tests."""
        with self.webhooks.delivering_with(deliverer) as using:
            yield using

    def create_hook(
        self,
        owner: str,
        name: str,
        *,
        url: str,
        content_type: str = "form",
        secret: str | None = None,
        insecure_ssl: str = "0",
        events: Iterable[str] = ("push",),
        active: bool = True,
        login: str | None = None,
        api_url: str | None = None,
    ) -> Hook:
        """A repository webhook, as POST /repos/{owner}/{repo}/hooks makes one; an active one is pinged at once."""
        repo = self.repository(owner, name)
        config = HookConfig(url, content_type, secret or None, insecure_ssl)
        events = list(dict.fromkeys(events))
        with self._lock:
            for hook in self.webhooks.hooks(repo.id):
                same = (hook.config.url, hook.config.content_type) == (url, content_type)
                if same and (set(hook.events) & set(events) or "*" in hook.events or "*" in events):
                    message = "Hook already exists on this repository"
                    raise ValidationFailed([{"resource": "Hook", "code": "custom", "message": message}])
            hook = self.webhooks.add(repo, config, events, active)
            outgoing = self._ping(repo, hook, login or self.user_login, api_url) if active else []
        self.webhooks.send(outgoing)
        return hook

    def hooks(self, owner: str, name: str) -> list[Hook]:
        return self.webhooks.hooks(self.repository(owner, name).id)

    def hook(self, owner: str, name: str, hook_id: int) -> Hook:
        """The repository's hook `hook_id`; NotFound when the repository has no such hook."""
        hook = self.webhooks.get(self.repository(owner, name).id, hook_id)
        if hook is None:
            raise NotFound()
        return hook

    def update_hook(
        self,
        owner: str,
        name: str,
        hook_id: int,
        *,
        config: dict[str, Any] | None = None,
        events: Iterable[str] | None = None,
        add_events: Iterable[str] = (),
        remove_events: Iterable[str] = (),
        active: bool | None = None,
        whole_config: bool = True,
    ) -> Hook:
        """PATCH a hook. A new `config` replaces the old one: a secret not given again is gone, as on GitHub
        (whole_config=False, as PATCH .../config does: only the fields given change)."""
        hook = self.hook(owner, name, hook_id)
        with self._lock:
            if config is not None:
                kept = hook.config.secret if not whole_config else None
                hook.config = HookConfig(
                    config.get("url", hook.config.url),
                    config.get("content_type", hook.config.content_type),
                    config.get("secret", kept) or None,
                    str(config.get("insecure_ssl", hook.config.insecure_ssl)),
                )
            names = list(events) if events is not None else list(hook.events)
            names += [event for event in add_events if event not in names]
            removed = set(remove_events)
            hook.events = [event for event in names if event not in removed]
            if active is not None:
                hook.active = active
            hook.updated_at = now()
            return hook

    def delete_hook(self, owner: str, name: str, hook_id: int) -> None:
        self.webhooks.remove(self.hook(owner, name, hook_id).id)

    def ping_hook(
        self, owner: str, name: str, hook_id: int, *, login: str | None = None, api_url: str | None = None
    ) -> None:
        repo = self.repository(owner, name)
        hook = self.hook(owner, name, hook_id)
        with self._lock:
            outgoing = self._ping(repo, hook, login or self.user_login, api_url)
        self.webhooks.send(outgoing)

    def test_hook(
        self, owner: str, name: str, hook_id: int, *, login: str | None = None, api_url: str | None = None
    ) -> None:
        """GitHub's push test: the hook hears the latest push to the default branch, if it hears pushes at all."""
        repo = self.repository(owner, name)
        hook = self.hook(owner, name, hook_id)
        with self._lock:
            if not hook.hears("push"):
                return
            after = repo.git.resolve(repo.default_branch)
            if after is None:
                return
            parents = repo.git.commit_info(after)["parents"].split()
            push = Push(
                repo.default_branch,
                parents[0] if parents else ZERO_SHA,
                after,
                [after],
                False,
                login or self.user_login,
            )
            event = HookEvent("push", None, repo, push.pusher, self._api(api_url), push=push, hook_id=hook.id)
            outgoing = self.webhooks.prepare(event)
        self.webhooks.send(outgoing)

    def _ping(self, repo: Repository, hook: Hook, login: str, api_url: str | None) -> list[Delivery]:
        zen = self.webhooks.next_zen()
        return self.webhooks.prepare(HookEvent("ping", None, repo, login, self._api(api_url), hook_id=hook.id, zen=zen))

    def deliveries(self, hook_id: int | None = None) -> list[Delivery]:
        """Every webhook delivery so far, oldest first, pending ones included (`.pending`); only those to
        `hook_id` when given. Each holds the exact `body` sent, its `request_headers`, and what came back."""
        return self.webhooks.deliveries(hook_id)

    def hook_deliveries(self, owner: str, name: str, hook_id: int) -> list[Delivery]:
        """The hook's deliveries as its deliveries API lists them: attempted ones, newest first."""
        hook = self.hook(owner, name, hook_id)
        return [d for d in reversed(self.webhooks.deliveries(hook.id)) if not d.pending]

    def hook_delivery(self, owner: str, name: str, hook_id: int, delivery_id: int) -> Delivery:
        hook = self.hook(owner, name, hook_id)
        delivery = self.webhooks.delivery(delivery_id)
        if delivery is None or delivery.hook_id != hook.id or delivery.pending:
            raise NotFound()
        return delivery

    def redeliver(self, delivery_id: int) -> Delivery:
        """Deliver again: a new delivery with the same GUID and body, marked `redelivery`.
        KeyError: no such delivery."""
        with self._lock:
            again = self.webhooks.redeliver(delivery_id)
        if again is None:
            raise KeyError(f"no delivery {delivery_id}")
        self.webhooks.send([again])
        return again

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Return once every delivery made so far has its outcome; TimeoutError (naming those still pending)
        after `timeout` seconds. Not from the event loop a LoopDeliverer sends on: await
        wait_for_deliveries_async there."""
        self.webhooks.wait(timeout)

    async def wait_for_deliveries_async(self, deadline_s: float = 10.0) -> None:
        """wait_for_deliveries for a test on an event loop, which keeps running meanwhile."""
        deadline = time.monotonic() + deadline_s
        while self.webhooks.pending:
            if time.monotonic() >= deadline:
                self.webhooks.wait(0)  # raises, naming what is still pending
            await asyncio.sleep(0.01)  # polling the pending count, bounded by the deadline above

    # -- fault matching -------------------------------------------------------------------------------
    def request_fact(self, key: str, facts: RequestFacts, path_params: dict[str, Any]) -> Any:
        """`repository`: "owner/name" of a REST call under /repos/ or of a git request."""
        if key == "repository" and "owner" in path_params and "repo" in path_params:
            return f"{path_params['owner']}/{str(path_params['repo']).removesuffix('.git')}"
        return None

    # -- lifecycle ------------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        with self._lock:
            for repo in self._repos.values():
                shutil.rmtree(repo.git.path, ignore_errors=True)
            self._repos.clear()
            self.rate_limits.clear()
            self.rate_limits.content_creation_per_minute = self._configured_content_creation_per_minute
            self.webhooks.clear()

    def close(self) -> None:
        self.reset()
        if self.webhooks.deliverer is not None:
            self.webhooks.deliverer.close()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def snapshot(self) -> dict[str, Any]:
        repos = self.repos()
        return {
            "repositories": [
                {
                    "full_name": repo.full_name,
                    "default_branch": repo.default_branch,
                    # The roles set, without the tokens (the dump ends up in test reports).
                    "roles_set": sorted(repo.roles.values()),
                    "path": str(repo.git.path),
                    "branches": repo.git.branches(),
                    "pulls": [
                        {
                            "number": pull.number,
                            "state": pull.state,
                            "title": pull.title,
                            "head": pull.head_ref,
                            "head_sha": pull.head_sha,
                            "base": pull.base_ref,
                        }
                        for pull in self.pull_requests(repo.owner, repo.name)
                    ],
                }
                for repo in repos
            ],
            "git_base_url": self.git_base_url,
            "content_creation_per_minute": self.content_creation_per_minute,
            "faults": [rule.to_json() for rule in self.faults.entries()],
            "users": self.logins(),
            # Hooks without their secrets (the dump ends up in test reports).
            "hooks": [
                {
                    "id": hook.id,
                    "repository": f"{hook.owner}/{hook.repo_name}",
                    "url": hook.config.url,
                    "events": hook.events,
                    "active": hook.active,
                    "deliveries": [
                        {"id": d.id, "guid": d.guid, "event": d.event, "action": d.action, "status": d.status}
                        for d in self.webhooks.deliveries(hook.id)
                    ],
                }
                for repo in repos
                for hook in self.webhooks.hooks(repo.id)
            ],
        }

    # -- internals ------------------------------------------------------------------------------------
    def _require(self, owner: str, name: str) -> Repository:
        repo = self.get_repo(owner, name)
        if repo is None:
            raise KeyError(f"no repository {owner}/{name}")
        return repo

    def _refresh(self, repo: Repository, pull: PullRequest) -> None:
        """Head and base follow their branches while the pull request is open, as on GitHub (a deleted branch
        keeps the last sha); a closed one keeps what it had when it closed."""
        if pull.state != "open":
            return
        pull.head_sha = repo.git.resolve(pull.head_ref) or pull.head_sha
        pull.base_sha = repo.git.resolve(pull.base_ref) or pull.base_sha
        # The counts and the merge are functions of the two commits alone: asked again only when either
        # branch moved (a pull request is refreshed on every read, and each answer cost git processes).
        if pull.checked != (pull.base_sha, pull.head_sha):
            pull.commits = repo.git.count_commits(pull.base_sha, pull.head_sha)
            pull.additions, pull.deletions, pull.changed_files = repo.git.diff_stats(pull.base_sha, pull.head_sha)
            pull.mergeable = repo.git.merge_tree(pull.base_sha, pull.head_sha) is not None
            pull.mergeable_state = "clean" if pull.mergeable else "dirty"
            pull.checked = (pull.base_sha, pull.head_sha)

    def _api(self, api_url: str | None) -> str:
        return (api_url or self.api_url or self.git_base_url or DEFAULT_API_URL).rstrip("/")

    def _event(
        self, name: str, action: str | None, repo: Repository, sender: str, api_url: str | None, **about: Any
    ) -> list[Delivery]:
        """The deliveries of an event to the repository's hooks, payloads as the state is now (call under
        the lock; send what it returns once the lock is released)."""
        return self.webhooks.prepare(HookEvent(name, action, repo, sender, self._api(api_url), **about))

    def _branch_moved(
        self, repo: Repository, branch: str, before: str, after: str, pusher: str, api_url: str | None = None
    ) -> list[Delivery]:
        """A branch moved from `before` to `after`: `push`, and "synchronize" for each open pull request whose
        head it is (call under the lock)."""
        if before == after:
            return []
        if after == ZERO_SHA:
            commits: list[str] = []
        elif before == ZERO_SHA:
            others = [sha for name, sha in repo.git.branches().items() if name != branch]
            commits = repo.git.commits_new_to(after, others)
        else:
            commits = repo.git.commits_between(before, after)
        forced = ZERO_SHA not in (before, after) and not repo.git.is_ancestor(before, after)
        push = Push(branch, before, after, commits[-MAX_PUSH_COMMITS:], forced, pusher)
        outgoing = self._event("push", None, repo, pusher, api_url, push=push)
        for pull in list(repo.pulls.values()):
            if pull.state == "open" and pull.head_ref == branch and after != ZERO_SHA:
                previous = pull.head_sha
                self._refresh(repo, pull)
                pull.updated_at = now()
                outgoing += self._event(
                    "pull_request", "synchronize", repo, pusher, api_url, pull=pull, changes={"before": previous}
                )
        return outgoing
