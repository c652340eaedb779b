"""Refuses request parameters (path, query, header, cookie) holding text the database cannot store.

Request bodies are checked by their models (app/schemas.py `StrictBody`); parameters are checked
here, once for every route: app/main.py makes `refuse_unstorable_parameters` a dependency of the
whole app, and it runs before the route's own dependencies, so no query ever sees such a value.
Only the parameters a route declares are checked: they are the ones its OpenAPI document lists
(with their 422), and the ones that can reach the database.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from app.schemas import unstorable


def _declared(dependant: Dependant) -> Iterator[tuple[str, str]]:
    """(location, name in the request) of every parameter of the dependant and its dependencies."""
    for location, fields in (
        ("path", dependant.path_params),
        ("query", dependant.query_params),
        ("header", dependant.header_params),
        ("cookie", dependant.cookie_params),
    ):
        for field in fields:
            yield location, field.alias
    for dependency in dependant.dependencies:
        yield from _declared(dependency)


def _values(request: Request, location: str, name: str) -> list[str]:
    if location == "path":
        value = request.path_params.get(name)
        return [value] if isinstance(value, str) else []
    if location == "query":
        return request.query_params.getlist(name)
    if location == "header":
        return request.headers.getlist(name)
    cookie = request.cookies.get(name)
    return [cookie] if cookie is not None else []


async def refuse_unstorable_parameters(request: Request) -> None:
    # async although it never awaits: FastAPI runs a plain `def` dependency in a worker thread.
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    problems: list[dict[str, Any]] = []
    # A walk of a few parameters: cheaper than any cache keyed by route (routes are not hashable).
    for location, name in dict.fromkeys(_declared(route.dependant)):
        for value in _values(request, location, name):
            if reason := unstorable(value):
                problems.append({"type": "value_error", "loc": (location, name), "msg": reason, "input": value})
    if problems:
        raise RequestValidationError(problems)
