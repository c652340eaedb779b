"""The admin API both fakes serve under /_fake/ (in the spirit of WireMock's admin API).

- POST   /_fake/reset        clear state, journal, faults, clock offset (keys/tokens stay)   -> 204
- GET    /_fake/journal      list of {method, path, query, status, operation, body, fault, at};
                             `?operation=NAME` and `?path=SUBSTRING` filter                  -> 200
- GET    /_fake/state        a dump of the state                                              -> 200
- GET    /_fake/faults       the active fault rules                                           -> 200
- POST   /_fake/faults       add a rule {operation, kind, status, body, headers, times, latency_ms,
                             match, after} (see mocks.common.faults)                          -> 201 the rule
- DELETE /_fake/faults       clear the rules                                                  -> 204
- DELETE /_fake/faults/{id}  remove one rule                                                  -> 204 (404)
- POST   /_fake/time         {"advance_seconds": N}: move the fake's clock forward            -> 200 {"now"}
- GET    /_fake/health       {"status": "ok"}                                                 -> 200
Errors of the admin API itself are 400 {"error": "..."}.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mocks.common.book import Book
from mocks.common.faults import FaultRule, InvalidFault
from mocks.common.service import FakeService

AdminHandler = Callable[[Request], Any]
A = TypeVar("A", bound=AdminHandler)
J = TypeVar("J", bound=Callable[[Request, dict[str, Any]], Awaitable[Response]])


class AdminTable:
    """A fake's own admin routes, each declared on its handler (`@table.route("POST", "/_fake/users")`), so the
    path stands next to the code that serves it. Routes match in the order they are declared."""

    def __init__(self) -> None:
        self.routes: list[BaseRoute] = []

    def route(self, method: str, path: str) -> Callable[[A], A]:
        def add(handler: A) -> A:
            self.routes.append(Route(path, handler, methods=[method]))
            return handler

        return add

    def json_route(self, method: str, path: str) -> Callable[[J], J]:
        """As `route`, for a handler of a JSON object: it is called with the object, and a body that is not one
        is answered 400 (read_json_object) without it."""

        def add(handler: J) -> J:
            async def endpoint(request: Request) -> Response:
                data = await read_json_object(request)
                if isinstance(data, JSONResponse):
                    return data
                return await handler(request, data)

            self.routes.append(Route(path, endpoint, methods=[method]))
            return handler

        return add


def admin_error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def read_json_object(request: Request) -> dict | JSONResponse:
    """The request's JSON object, or the 400 response to return instead."""
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError:
        return admin_error("the body is not valid JSON")
    if not isinstance(data, dict):
        return admin_error("the body must be a JSON object")
    return data


class Listed(Protocol):
    id: int

    def to_json(self) -> dict[str, Any]: ...


ListedT = TypeVar("ListedT", bound=Listed)


def book_routes(
    path: str,
    book: Book[ListedT],
    parse: Callable[[dict[str, Any]], ListedT],
    invalid: tuple[type[Exception], ...],
    *,
    add: Callable[[ListedT], ListedT] | None = None,
    one: str | None = None,
) -> list[BaseRoute]:
    """The admin routes of a book (mocks.common.book) at `path`: GET lists its entries, POST adds one
    (its JSON read by `parse`; 400 for what raises `invalid`; kept by `add`, else by the book) -> 201,
    DELETE clears them -> 204; and, where `one` names an entry ("fault rule"), DELETE `path`/{id}
    removes one -> 204 (404)."""
    keep = add or book.add

    async def list_entries(request: Request) -> Response:
        return JSONResponse([entry.to_json() for entry in book.entries()])

    async def add_entry(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            entry = keep(parse(data))
        except invalid as error:
            return admin_error(str(error))
        return JSONResponse(entry.to_json(), 201)

    async def clear_entries(request: Request) -> Response:
        book.clear()
        return Response(status_code=204)

    async def remove_entry(request: Request) -> Response:
        entry_id = request.path_params["entry_id"]
        if not entry_id.isdigit() or not book.remove(int(entry_id)):
            return admin_error(f"no {one} {entry_id}", 404)
        return Response(status_code=204)

    routes: list[BaseRoute] = [
        Route(path, list_entries, methods=["GET"]),
        Route(path, add_entry, methods=["POST"]),
        Route(path, clear_entries, methods=["DELETE"]),
    ]
    if one is not None:
        routes.append(Route(path + "/{entry_id}", remove_entry, methods=["DELETE"]))
    return routes


def settings_route(
    path: str,
    fields: frozenset[str],
    apply: Callable[[dict[str, Any]], object],
    current: Callable[[], dict[str, Any]],
) -> Route:
    """POST `path` with a JSON object of some of `fields`: `apply` takes it and the answer is `current()`
    -> 200; an unknown field, or a value `apply` refuses with ValueError, is the 400 answered instead."""

    async def change(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        unknown = set(data) - fields
        if unknown:
            return admin_error(f"unknown fields: {', '.join(sorted(unknown))}")
        try:
            apply(data)
        except ValueError as error:
            return admin_error(str(error))
        return JSONResponse(current())

    return Route(path, change, methods=["POST"])


def admin_routes(service: FakeService) -> list[BaseRoute]:
    async def reset(request: Request) -> Response:
        service.reset()
        return Response(status_code=204)

    async def journal(request: Request) -> Response:
        entries = service.requests(request.query_params.get("operation"))
        path = request.query_params.get("path")
        return JSONResponse([entry.to_json() for entry in entries if path is None or path in entry.path])

    async def state(request: Request) -> Response:
        return JSONResponse(service.snapshot())

    async def advance_time(request: Request) -> Response:
        data = await read_json_object(request)
        if isinstance(data, JSONResponse):
            return data
        seconds = data.get("advance_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            return admin_error("advance_seconds must be a non-negative number")
        service.advance_time(seconds)
        return JSONResponse({"now": service.time()})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return [
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/journal", journal, methods=["GET"]),
        Route("/_fake/state", state, methods=["GET"]),
        *book_routes(
            "/_fake/faults",
            service.faults,
            FaultRule.from_json,
            (InvalidFault,),
            add=service.add_fault_rule,
            one="fault rule",
        ),
        Route("/_fake/time", advance_time, methods=["POST"]),
        Route("/_fake/health", health, methods=["GET"]),
    ]
