"""GitHubService: repositories and pull requests over GitHub's REST API."""

import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.services.errors import GitHubError
from app.services.retry import RetryPolicy, with_retries


@dataclass(frozen=True)
class Repository:
    full_name: str
    owner: str
    clone_url: str
    default_branch: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    head: str


def _to_pull_request(data: dict[str, Any]) -> PullRequest:
    return PullRequest(number=data["number"], url=data["html_url"], head=data["head"]["ref"])


def _error(response: httpx.Response, action: str) -> GitHubError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") or response.text or response.reason_phrase
    details = "; ".join(e.get("message", "") for e in body.get("errors", []) if isinstance(e, dict))
    if details:
        message = f"{message}: {details}"
    status = response.status_code
    remaining = response.headers.get("x-ratelimit-remaining")
    retry_after = response.headers.get("retry-after")
    if retry_after is not None and status in (403, 429):
        return GitHubError(
            f"{action}: GitHub secondary rate limit ({message})",
            transient=True,
            retry_after=float(retry_after),
        )
    if remaining == "0" and status in (403, 429):
        reset = float(response.headers.get("x-ratelimit-reset", time.time()))
        return GitHubError(
            f"{action}: GitHub rate limit exhausted ({message})",
            transient=True,
            retry_after=max(0.0, reset - time.time()),
        )
    if status == 401:
        message = f"GitHub refused the token ({message}); check GITHUB_TOKEN"
    return GitHubError(f"{action}: HTTP {status}: {message}", transient=status >= 500)


class GitHubService:
    def __init__(self, client: httpx.AsyncClient, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()

    async def _request(self, method: str, path: str, action: str, expected: int, **kwargs: Any) -> Any:
        async def attempt() -> Any:
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as error:
                raise GitHubError(f"{action}: GitHub timed out", transient=True) from error
            except httpx.TransportError as error:
                raise GitHubError(f"{action}: cannot reach GitHub: {error!r}", transient=True) from error
            if response.status_code != expected:
                raise _error(response, action)
            return response.json()

        return await with_retries(attempt, self._retry)

    async def get_repository(self, full_name: str) -> Repository:
        data = await self._request("GET", f"/repos/{full_name}", f"reading repository {full_name}", 200)
        return Repository(
            full_name=data["full_name"],
            owner=data["owner"]["login"],
            clone_url=data["clone_url"],
            default_branch=data["default_branch"],
        )

    async def find_open_pull_request(self, repo: Repository, branch: str) -> PullRequest | None:
        params = {"head": f"{repo.owner}:{branch}", "state": "open"}
        found = await self._request(
            "GET",
            f"/repos/{repo.full_name}/pulls",
            "looking for an existing pull request",
            200,
            params=params,
        )
        return _to_pull_request(found[0]) if found else None

    async def create_pull_request(self, repo: Repository, branch: str, title: str, body: str) -> PullRequest:
        payload = {"title": title, "head": branch, "base": repo.default_branch, "body": body}
        data = await self._request(
            "POST", f"/repos/{repo.full_name}/pulls", "creating the pull request", 201, json=payload
        )
        return _to_pull_request(data)
