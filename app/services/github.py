"""GitHubService: repositories and pull requests over GitHub's REST API.

Rate limits are GitHub's two kinds: the primary one (403/429 with `x-ratelimit-remaining: 0`, wait
until `x-ratelimit-reset`) and secondary ones (403/429 with `retry-after`, or without it one minute,
twice as long each time it persists, as GitHub's documentation asks). The wait closes the service's
RateLimitGate (app/services/rate_gate.py), which every call with the same token passes first, and
the call is sent again once it is over, as long as that is within the gate's `max_wait_s` of the
call's start; a longer wait fails the call with a message saying when to try again. Other
transient failures (no answer, 5xx) are retried as the RetryPolicy says.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from app.redaction import redact
from app.services.errors import (
    DuplicatePullRequest,
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    PullRequestValidationError,
    RateLimited,
)
from app.services.rate_gate import DEFAULT_MAX_WAIT_S, RateLimitGate
from app.services.retry import RetryPolicy, format_moment, parse_retry_after, seconds_until, with_retries

T = TypeVar("T")
log = logging.getLogger(__name__)
# GitHub: "If you receive a secondary rate limit without retry-after, wait for at least one minute."
SECONDARY_RATE_LIMIT_DEFAULT_WAIT_S = 60.0


@dataclass(frozen=True)
class Repository:
    full_name: str
    owner: str
    clone_url: str
    default_branch: str
    # `permissions.push` of GitHub's answer: whether the token may push; None when GitHub did not say.
    can_push: bool | None = None


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    head: str
    # As GitHub shows the pull request now: "open" or "closed", and whether it was merged.
    state: str = "open"
    merged: bool = False
    head_sha: str | None = None

    @property
    def open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class LineComment:
    """A review comment on a line (or a file) of the pull request's diff."""

    id: int
    review_id: int | None
    author: str
    path: str
    line: int | None
    body: str


@dataclass(frozen=True)
class Comment:
    id: int
    url: str


@dataclass(frozen=True)
class Hook:
    id: int
    url: str


def _to_pull_request(data: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=data["number"],
        url=data["html_url"],
        head=data["head"]["ref"],
        state=data.get("state", "open"),
        merged=bool(data.get("merged_at")) or bool(data.get("merged")),
        head_sha=data["head"].get("sha"),
    )


def _to_line_comment(data: dict[str, Any]) -> LineComment:
    return LineComment(
        id=data["id"],
        review_id=data.get("pull_request_review_id"),
        author=data["user"]["login"],
        path=data["path"],
        line=data.get("line"),
        body=data.get("body") or "",
    )


class GitHubService:
    def __init__(
        self,
        client: httpx.AsyncClient,
        retry: RetryPolicy | None = None,
        gate: RateLimitGate | None = None,
        *,
        credential: str = "GITHUB_TOKEN",
    ) -> None:
        """`client` carries the base URL and the Authorization header (the token is read from it to keep
        it out of every message). `gate` is the token's: one per token, shared by every call made with it.
        `credential` names the setting the token comes from, in messages."""
        self._client = client
        self._retry = retry or RetryPolicy()
        self.gate = gate or RateLimitGate(DEFAULT_MAX_WAIT_S)
        self.credential = credential

    async def get_repository(self, full_name: str) -> Repository:
        """Raises GitHubNotFound when the repository does not exist or the token cannot see it."""
        data = await self._request("GET", f"/repos/{full_name}", f"reading repository {full_name}", 200)
        return self._parse(
            f"reading repository {full_name}",
            lambda: Repository(
                full_name=data["full_name"],
                owner=data["owner"]["login"],
                clone_url=data["clone_url"],
                default_branch=data["default_branch"],
                can_push=_push_permission(data),
            ),
        )

    async def find_open_pull_request(self, repo: Repository, branch: str) -> PullRequest | None:
        """The open pull request from `branch` of `repo`, or None."""
        action = f"looking for an open pull request from {branch} in {repo.full_name}"
        params = {"head": f"{repo.owner}:{branch}", "state": "open"}
        found = await self._request("GET", f"/repos/{repo.full_name}/pulls", action, 200, params=params)
        return self._parse(action, lambda: _to_pull_request(found[0]) if found else None)

    async def create_pull_request(self, repo: Repository, branch: str, title: str, body: str) -> PullRequest:
        """Open a pull request from `branch` to the default branch.

        Raises DuplicatePullRequest when one is already open for `branch`, PullRequestValidationError
        for any other refusal (no commits between the branches, an unknown branch, an empty title).
        """
        action = f"creating a pull request from {branch} in {repo.full_name}"
        payload = {"title": title, "head": branch, "base": repo.default_branch, "body": body}
        deadline = self.gate.deadline()
        maybe_opened = False

        async def attempt() -> PullRequest:
            nonlocal maybe_opened
            if maybe_opened:
                # The last request may have opened it though no answer said so: look before asking again.
                found = await self.find_open_pull_request(repo, branch)
                if found is not None:
                    return found
            try:
                data = await self._exchange(
                    "POST", f"/repos/{repo.full_name}/pulls", action, 201, deadline, json=payload
                )
            except GitHubError as error:
                # No answer, or a server error: GitHub may have opened it all the same. A rate limit opened nothing.
                maybe_opened = error.transient and not isinstance(error, RateLimited)
                raise
            return self._parse(action, lambda: _to_pull_request(data))

        return await with_retries(attempt, self._retry)

    async def get_pull_request(self, repo: Repository, number: int) -> PullRequest:
        """The pull request as it is now: open, closed or merged. Raises GitHubNotFound when it is gone."""
        action = f"reading pull request #{number} of {repo.full_name}"
        data = await self._request("GET", f"/repos/{repo.full_name}/pulls/{number}", action, 200)
        return self._parse(action, lambda: _to_pull_request(data))

    async def review_comments(self, repo: Repository, number: int) -> list[LineComment]:
        """The review comments on the pull request's diff (the first hundred: a review round needs no more)."""
        action = f"reading the review comments of pull request #{number} of {repo.full_name}"
        path = f"/repos/{repo.full_name}/pulls/{number}/comments"
        found = await self._request("GET", path, action, 200, params={"per_page": 100})
        return self._parse(action, lambda: [_to_line_comment(item) for item in found])

    async def comment(self, repo: Repository, number: int, body: str) -> Comment:
        """A comment in the pull request's conversation (GitHub keeps it on the issue of the same number)."""
        action = f"commenting on pull request #{number} of {repo.full_name}"
        path = f"/repos/{repo.full_name}/issues/{number}/comments"
        data = await self._request("POST", path, action, 201, json={"body": body})
        return self._parse(action, lambda: Comment(id=data["id"], url=data["html_url"]))

    async def ensure_hook(self, full_name: str, url: str, secret: str, events: list[str]) -> tuple[Hook, bool]:
        """The repository's webhook delivering `events` to `url`, signed with `secret`: the one already
        there for `url` is updated (so registering twice leaves one hook), else one is made. Returns it,
        and whether it was made now. Raises GitHubForbidden or GitHubNotFound when the token may not
        manage the repository's hooks (GitHub asks for admin rights)."""
        config = {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}
        body = {"name": "web", "active": True, "events": events, "config": config}
        existing = await self._hook_for(full_name, url)
        if existing is None:
            action = f"creating a webhook on {full_name}"
            try:
                data = await self._request("POST", f"/repos/{full_name}/hooks", action, 201, json=body)
                return self._parse(action, lambda: Hook(id=data["id"], url=data["config"]["url"])), True
            except PullRequestValidationError:
                # Made meanwhile (another squad of the same repository): update that one instead.
                existing = await self._hook_for(full_name, url)
                if existing is None:
                    raise
        action = f"updating webhook {existing.id} of {full_name}"
        body.pop("name")
        data = await self._request("PATCH", f"/repos/{full_name}/hooks/{existing.id}", action, 200, json=body)
        return self._parse(action, lambda: Hook(id=data["id"], url=data["config"]["url"])), False

    async def _hook_for(self, full_name: str, url: str) -> Hook | None:
        action = f"listing the webhooks of {full_name}"
        found = await self._request("GET", f"/repos/{full_name}/hooks", action, 200, params={"per_page": 100})
        hooks = self._parse(action, lambda: [Hook(id=item["id"], url=item["config"].get("url", "")) for item in found])
        return next((hook for hook in hooks if hook.url == url), None)

    # -- the HTTP exchange --------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, action: str, expected: int, **kwargs: Any) -> Any:
        deadline = self.gate.deadline()
        return await with_retries(
            lambda: self._exchange(method, path, action, expected, deadline, **kwargs), self._retry
        )

    async def _exchange(
        self, method: str, path: str, action: str, expected: int, deadline: float, **kwargs: Any
    ) -> Any:
        """One try of a call: the request, sent again after each rate limit's wait while that ends before
        `deadline` (on the gate's clock). Other failures are raised for the RetryPolicy to judge."""
        limited: RateLimited | None = None
        unnamed = 0  # secondary limits in a row that named no wait: each waits twice the last
        while True:
            pause = self.gate.closed_for()
            if pause > 0:
                if self.gate.clock() + pause > deadline:
                    raise self._waited_enough(action, limited, pause)
                # Said once per refusal (below); the calls that wait behind it say so only when asked.
                log.debug("%s: waiting %.0f s for GitHub's rate limit of this token", action, pause)
                await self.gate.sleep(pause)
            response = await self._send(method, path, action, **kwargs)
            if response.status_code == expected:
                return self._json(response, action, idempotent=method == "GET")
            error = self._error(response, action, unnamed)
            if not isinstance(error, RateLimited) or error.retry_after is None:
                raise error
            limited = error
            unnamed = unnamed + 1 if error.escalates else 0
            if error.retry_after > self.gate.max_wait_s:
                # No call waits that long: this one fails now, and the token is not shut for hours on
                # one answer (a clock hours off, a limit lifted early would keep it shut for nothing).
                raise self._waited_enough(action, error, error.retry_after)
            self.gate.close_for(error.retry_after)
            log.warning("%s; every call with this token waits %.0f s", error.message, self.gate.closed_for())

    async def _send(self, method: str, path: str, action: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise GitHubError(
                f"{action} failed: GitHub did not answer in time ({type(error).__name__})", transient=True
            ) from error
        except httpx.TransportError as error:
            raise GitHubError(
                self._clean(
                    f"{action} failed: cannot reach GitHub at {self._client.base_url} ({type(error).__name__}: {error})"
                ),
                transient=True,
            ) from error

    def _json(self, response: httpx.Response, action: str, *, idempotent: bool) -> Any:
        try:
            return response.json()
        except ValueError as error:
            # A POST that may have reached GitHub is not repeated on an unreadable answer; GETs are.
            raise GitHubError(
                f"{action} failed: GitHub answered HTTP {response.status_code} with a body that is not JSON",
                transient=idempotent,
            ) from error

    def _waited_enough(self, action: str, limited: RateLimited | None, pause: float) -> RateLimited:
        """The failure of a call that would wait past its deadline: GitHub's own refusal when it met one,
        else the limit another call with this token met."""
        error = limited or RateLimited(
            f"{action} failed: GitHub's rate limit, which another call with this token met, lasts {pause:.0f} s more",
            transient=True,
            retry_after=pause,
        )
        error.give_up(
            1,
            f"waiting {pause:.0f} s more would pass the {self.gate.max_wait_s:g} s a call may wait for GitHub's "
            "rate limits (GITHUB_RATE_LIMIT_MAX_WAIT_S); try again later",
        )
        return error

    def _parse(self, action: str, build: Callable[[], T]) -> T:
        try:
            return build()
        except (KeyError, IndexError, TypeError) as error:
            raise GitHubError(
                f"{action} failed: GitHub's answer lacks an expected field ({type(error).__name__}: {error})"
            ) from error

    def _error(self, response: httpx.Response, action: str, unnamed: int = 0) -> GitHubError:
        """What GitHub's refusal means; `unnamed` is how many secondary limits without a wait came just before."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        said = self._clean(str(body.get("message") or response.text.strip() or response.reason_phrase))[:300]
        details = [self._clean(_describe(item)) for item in body.get("errors") or [] if isinstance(item, dict)]
        if status in (403, 429):
            limited = self._rate_limit(response, action, said, unnamed)
            if limited is not None:
                return limited
        if status == 401:
            return GitHubAuthError(
                f"{action} failed: GitHub refused the token (HTTP 401: {said}); check {self.credential}"
            )
        if status == 403:
            return GitHubForbidden(
                f"{action} failed: GitHub denied it (HTTP 403: {said}); {self.credential} lacks a permission for this "
                "repository (pull requests and contents need write access)"
            )
        if status == 404:
            return GitHubNotFound(
                f"{action} failed: not found (HTTP 404); the repository does not exist or {self.credential} cannot "
                "see it"
            )
        if status == 422:
            if any("pull request already exists" in detail.lower() for detail in details):
                return DuplicatePullRequest(f"{action} failed: {'; '.join(details)}")
            reason = f"{said}: {'; '.join(details)}" if details else said
            return PullRequestValidationError(f"{action} failed: GitHub refused it (HTTP 422: {reason})")
        if status >= 500:
            return GitHubError(f"{action} failed: GitHub had a server error (HTTP {status}: {said})", transient=True)
        return GitHubError(f"{action} failed: GitHub answered HTTP {status}: {said}")

    def _rate_limit(self, response: httpx.Response, action: str, said: str, unnamed: int) -> RateLimited | None:
        headers = response.headers
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is not None:
            return RateLimited(
                f"{action} failed: GitHub's secondary rate limit ({said}); it asked to wait {retry_after:.0f} s",
                transient=True,
                retry_after=retry_after,
            )
        if headers.get("x-ratelimit-remaining") == "0":
            wait = seconds_until(headers.get("x-ratelimit-reset"))
            when = f"; it resets at {format_moment(time.time() + wait)}, in {wait:.0f} s" if wait is not None else ""
            return RateLimited(
                f"{action} failed: GitHub's API rate limit for this token is exhausted ({said}){when}",
                transient=True,
                retry_after=wait,
            )
        if "secondary rate limit" in said.lower() or response.status_code == 429:
            # GitHub: wait a minute, and if the limit persists, an exponentially longer time.
            wait = SECONDARY_RATE_LIMIT_DEFAULT_WAIT_S * 2**unnamed
            how_long = "the minute GitHub asks for" if unnamed == 0 else f"{wait:.0f} s, twice the last, as it persists"
            limited = RateLimited(
                f"{action} failed: GitHub's secondary rate limit ({said}); waiting {how_long}",
                transient=True,
                retry_after=wait,
            )
            limited.escalates = True
            return limited
        return None

    def _clean(self, text: str) -> str:
        """`text` without the token of the Authorization header."""
        scheme, _, credential = self._client.headers.get("authorization", "").partition(" ")
        return redact(text, [credential.strip() or scheme])


def _describe(item: dict[str, Any]) -> str:
    """One item of a 422's `errors`: its message, else "<field> <code>" (e.g. "head invalid")."""
    if item.get("message"):
        return str(item["message"])
    return " ".join(str(item[key]) for key in ("resource", "field", "code") if item.get(key))


def _push_permission(data: dict[str, Any]) -> bool | None:
    permissions = data.get("permissions")
    push = permissions.get("push") if isinstance(permissions, dict) else None
    return push if isinstance(push, bool) else None
