"""The JSON E2B returns for sandboxes (schemas of the API's OpenAPI description: Sandbox, SandboxDetail,
ListedSandbox) and the headers of a page of them.

Built from the state's objects, which this module reads without importing the state at run time: the
state's own dump (/_fake/state) shows each sandbox as GET /sandboxes/{sandboxID} does, so it imports this.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocks.e2b.state import Sandbox, SandboxPage

CLIENT_ID = "6532622b"  # deprecated field the API still fills with a constant


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _identity(sandbox: Sandbox) -> dict[str, Any]:
    """What every shape of a sandbox the SDK connects with says: which it is and how to reach its envd.

    `envdAccessToken` only for a sandbox created `secure` (the description has it an optional string,
    never null): without it, envd asks for no token and the SDK sends none.
    """
    identity = {
        "templateID": sandbox.template_id,
        "alias": sandbox.template_id,
        "sandboxID": sandbox.sandbox_id,
        "clientID": CLIENT_ID,
        "envdVersion": sandbox.envd_version,
        "envdAccessToken": sandbox.envd_access_token,
        "domain": None,
    }
    if sandbox.envd_access_token is None:
        del identity["envdAccessToken"]
    return identity


def sandbox_json(sandbox: Sandbox) -> dict[str, Any]:
    """The `Sandbox` schema: the answer to POST /sandboxes, POST /v2/sandboxes, resume and connect."""
    return {**_identity(sandbox), "trafficAccessToken": None}


def sandbox_detail_json(sandbox: Sandbox) -> dict[str, Any]:
    """The `SandboxDetail` schema: the answer to GET /sandboxes/{sandboxID}."""
    return {
        **_identity(sandbox),
        "startedAt": iso(sandbox.started_at),
        "endAt": iso(sandbox.end_at),
        "cpuCount": sandbox.cpu_count,
        "memoryMB": sandbox.memory_mb,
        "diskSizeMB": sandbox.disk_size_mb,
        "metadata": dict(sandbox.metadata),
        "state": "paused" if sandbox.paused else "running",
        "lifecycle": {"autoResume": False, "onTimeout": "pause" if sandbox.auto_pause else "kill"},
    }


def listed_sandbox_json(sandbox: Sandbox) -> dict[str, Any]:
    """The `ListedSandbox` schema: an item of GET /sandboxes and GET /v2/sandboxes."""
    detail = sandbox_detail_json(sandbox)
    for key in ("envdAccessToken", "domain", "lifecycle"):
        detail.pop(key, None)
    return detail


def page_headers(page: SandboxPage) -> dict[str, str]:
    """X-Next-Token when more sandboxes follow the page; X-Total-Running when running ones were asked for."""
    headers = {}
    if page.next_token is not None:
        headers["X-Next-Token"] = page.next_token
    if page.total_running is not None:
        headers["X-Total-Running"] = str(page.total_running)
    return headers
