"""The platform's operations as its own OpenAPI document lists them, and which of them are public.

Read from `create_app().openapi()`, so an endpoint added tomorrow is enumerated (and must be handled
by the security tests) without anyone editing a list of URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route

from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN

if TYPE_CHECKING:
    from fixtures.squads import Squad

API_PREFIX = "/api/v1"
# Everything else under /api/v1 needs a squad's token: these are reachable without one (GitHub's
# deliveries carry GitHub's signature with the platform's webhook secret instead).
PUBLIC_API_OPERATIONS: set[tuple[str, str]] = {("POST", "/api/v1/github/webhooks")}
# These take the operator's token (SQUAD_ADMIN_TOKEN) instead of a squad's.
OPERATOR_API_OPERATIONS = {("POST", "/api/v1/squads")}  # how a squad (and its token) comes to exist
# Outside /api/v1 (the probe, the scrape, the API description, the board) every route is public.
PUBLIC_ROUTES = {
    "/health",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/",
    "/web",
}
# The ids a request can carry, by parameter or body field name: what tenancy swaps for another squad's.
RESOURCE_FIELDS = {"task_id": "task", "agent_id": "agent", "sandbox_id": "sandbox"}


def caller_headers(operation: Operation, squad: Squad) -> dict[str, str]:
    """Who may call the operation: the operator (creating squads) or the squad, so that a refusal a test
    expects is about what it sent, not about who sent it."""
    if operation.is_operators:
        return {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}
    return squad.headers


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_public(self) -> bool:
        return (self.method, self.path) in PUBLIC_API_OPERATIONS

    @property
    def is_operators(self) -> bool:
        return (self.method, self.path) in OPERATOR_API_OPERATIONS

    def parameters(self, location: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == location]

    def body_schema(self, document: dict[str, Any]) -> dict[str, Any] | None:
        body = self.spec.get("requestBody")
        if body is None:
            return None
        schema = body["content"]["application/json"]["schema"]
        return resolve(document, schema)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


@cache
def openapi_document() -> dict[str, Any]:
    from app.main import create_app

    return create_app().openapi()


def api_operations() -> list[Operation]:
    """Every operation under /api/v1 of the platform's OpenAPI document."""
    return [
        Operation(method.upper(), path, spec)
        for path, methods in openapi_document()["paths"].items()
        if path.startswith(API_PREFIX)
        for method, spec in methods.items()
    ]


def routes_outside_the_api(app: FastAPI) -> set[str]:
    """The paths the app serves outside /api/v1, documented in its OpenAPI or not."""
    return {path for path in _route_paths(app.routes, "") if not path.startswith(API_PREFIX)}


def api_route_paths(app: FastAPI) -> set[str]:
    """The paths the app serves under /api/v1, whether its OpenAPI document shows them or not."""
    return {path for path in _route_paths(app.routes, "") if path.startswith(API_PREFIX)}


def _route_paths(routes: list[BaseRoute], prefix: str) -> list[str]:
    paths = []
    for route in routes:
        if isinstance(route, Route | Mount):
            paths.append(prefix + route.path)
        elif hasattr(route, "original_router"):
            # FastAPI >= 0.120 keeps an included router as one route; its own routes hang below it.
            context = route.include_context  # type: ignore[attr-defined]
            paths += _route_paths(route.original_router.routes, prefix + context.prefix)
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}; teach _route_paths about it")
    return paths
