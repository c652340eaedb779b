"""The state model of the fake GitHub: tokens, repositories (real bare git repositories), each token's
role on a repository (GitHub's collaborators, by token), pull requests.

What GitHub would refuse raises a GitHubError carrying the status of GitHub's answer (errors.py words the
body). Plain Python: no HTTP framework here; the app (app.py) is the only HTTP front.
"""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mocks.common.faults import RequestFacts
from mocks.common.service import FakeService
from mocks.github.bare_repo import BareRepository, is_valid_branch_name
from mocks.github.rate_limits import AUTHENTICATED_LIMIT, RateLimits, RateWindow

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
    `message`, `errors` the items of its `errors` array (422s only)."""

    status = 500

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
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


class RepositoryExists(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


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
        latency_ms: int = 0,
        root: str | Path | None = None,
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.tokens: set[str] = set(tokens)
        # Where git is served over real HTTP (clone_url); None: the URL the API request came to.
        self.git_base_url = git_base_url.rstrip("/") if git_base_url else None
        self.user_login = user_login
        self.rate_limits = RateLimits(rate_limit, clock=self.time)
        self._owns_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="fake-github-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._repos: dict[tuple[str, str], Repository] = {}
        self._ids = itertools.count(1)

    # -- credentials ----------------------------------------------------------------------------------
    def add_token(self, token: str) -> None:
        with self._lock:
            self.tokens.add(token)

    def is_valid_token(self, token: str | None) -> bool:
        with self._lock:
            return bool(token) and token in self.tokens

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
        """Content-creating calls (POST pulls) a token may make per minute before the secondary limit."""
        return self.rate_limits.content_creation_per_minute

    @content_creation_per_minute.setter
    def content_creation_per_minute(self, value: int) -> None:
        self.rate_limits.content_creation_per_minute = value

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
        """The repository and its git data are gone, as after a deletion on GitHub. KeyError: no repository."""
        repo = self._require(owner, name)
        with self._lock:
            self._repos.pop((repo.owner.lower(), repo.name.lower()), None)
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
    ) -> str:
        """Commit `files` (path -> text) on `branch` directly in the bare repository, as a push would;
        a new branch starts at `start` (default: the default branch). Returns the commit's sha."""
        repo = self._require(owner, name)
        with self._lock:
            return repo.git.commit_files(branch, files, message, start=start or repo.default_branch)

    def create_branch(self, owner: str, name: str, branch: str, *, start: str | None = None) -> str:
        """A new branch at the tip of `start` (default: the default branch), as a push of it would make."""
        repo = self._require(owner, name)
        if not is_valid_branch_name(branch):
            raise ValueError(f"invalid branch name: {branch!r}")
        sha = repo.git.resolve(start or repo.default_branch)
        if sha is None:
            raise KeyError(f"{owner}/{name} has no branch {start!r}")
        with self._lock:
            repo.git.git("update-ref", f"refs/heads/{branch}", sha)
        return sha

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
    ) -> PullRequest:
        """Open a pull request as GitHub would, or raise ValidationFailed with GitHub's errors."""
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

    def close(self) -> None:
        self.reset()
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
            "faults": [rule.to_json() for rule in self.faults.rules()],
        }

    # -- internals ------------------------------------------------------------------------------------
    def _require(self, owner: str, name: str) -> Repository:
        repo = self.get_repo(owner, name)
        if repo is None:
            raise KeyError(f"no repository {owner}/{name}")
        return repo

    def _refresh(self, repo: Repository, pull: PullRequest) -> None:
        """Head and base follow their branches, as on GitHub (a deleted branch keeps the last sha)."""
        pull.head_sha = repo.git.resolve(pull.head_ref) or pull.head_sha
        pull.base_sha = repo.git.resolve(pull.base_ref) or pull.base_sha
        pull.commits = repo.git.count_commits(pull.base_sha, pull.head_sha)
        pull.additions, pull.deletions, pull.changed_files = repo.git.diff_stats(pull.base_sha, pull.head_sha)
