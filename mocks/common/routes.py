"""A fake's route table: the one list of its operations, from which both transports are derived.

Each entry names an operation (the name the journal, fault rules and respx router use), its method, its
path as a Starlette path template ("/sandboxes/{sandbox_id}", "/repos/{owner}/{repo}/branches/{branch:path}")
and its handler, an `async (fake, request) -> response`. `starlette_routes` makes the app's routes of
it; `mocks.common.respx_bridge` makes the respx router's named routes of the same entries, with
`path_regex` turning each template into the regex Starlette matches it with.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.convertors import CONVERTOR_TYPES
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mocks.common.operations import FaultBody, operation
from mocks.common.service import FakeService

# The fake's service object and the request -> the response. The service is typed Any so that a
# handler can name its own fake's class.
Handler = Callable[[Any, Request], Awaitable[Response]]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CATCH_ALL = "not_found"
PARAMETER = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    handler: Handler


def bound(service: FakeService, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(service, request)

    return endpoint


def starlette_routes(service: FakeService, table: Sequence[Endpoint], fault_body: FaultBody) -> list[Route]:
    """The table's routes, in order, each journaled and open to faults as its operation."""
    routes = []
    for entry in table:
        endpoint = operation(service, entry.name, bound(service, entry.handler), fault_body)
        routes.append(Route(entry.path, endpoint, methods=[entry.method]))
    return routes


def catch_all(service: FakeService, handler: Handler, fault_body: FaultBody) -> Route:
    """The last route: whatever no entry matched, answered by `handler` as the operation "not_found"."""
    return Route(
        "/{path:path}", operation(service, CATCH_ALL, bound(service, handler), fault_body), methods=ALL_METHODS
    )


def path_regex(template: str) -> str:
    """The regex (unanchored, without groups) of the paths a Starlette path template matches.

    Non-capturing, because respx passes a pattern's named groups to side effects as keyword arguments.
    """
    parts: list[str] = []
    end = 0
    for match in PARAMETER.finditer(template):
        parts.append(re.escape(template[end : match.start()]))
        parts.append(f"(?:{CONVERTOR_TYPES[match.group(2) or 'str'].regex})")
        end = match.end()
    parts.append(re.escape(template[end:]))
    return "".join(parts)
