"""Why an answer was not the one a user wanted, in a failure's words.

Both of Locust's clients report a request that got no answer at all (refused, reset, timed out) as
status 0 with an empty body, keeping the cause in `response.error`: without it, such a failure read
"expected HTTP 204, got 0:" and said nothing of what happened.
"""

from typing import Any


def unexpected(response: Any, wanted: int) -> str:
    """The failure of `response` (either client's) that should have been HTTP `wanted`."""
    if not response.status_code:
        error = getattr(response, "error", None)
        cause = f"{type(error).__name__}: {error}" if error is not None else "the connection ended"
        return f"expected HTTP {wanted}, got no answer ({cause})"
    return f"expected HTTP {wanted}, got {response.status_code}: {(response.text or '')[:200]}"
