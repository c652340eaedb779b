"""GitHub's error body as the contract tests expect it, for the test modules of the fake GitHub."""

import httpx

REST_DOCS = "https://docs.github.com/rest"


def assert_github_error(
    response: httpx.Response, status: int, message: str, documentation_url: str = REST_DOCS
) -> None:
    """`response` is GitHub's basic error: `status`, with the message, the documentation page and the status
    (as a string) in its body, and nothing else."""
    assert response.status_code == status, f"status {response.status_code}, expected {status}: {response.text}"
    body = response.json()
    assert body == {"message": message, "documentation_url": documentation_url, "status": str(status)}, body
