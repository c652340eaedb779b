"""Prometheus metrics of one platform instance: requests, pipeline steps, SSE streams, jobs and the LLM."""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import API_PREFIX


class Metrics:
    """One registry per app instance, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "squad_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "squad_http_request_duration_seconds", "Time to answer", ["method", "route"], registry=self.registry
        )
        self.step_seconds = Histogram(
            "squad_pipeline_step_duration_seconds",
            "Duration of each pipeline step",
            ["step"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.active_streams = Gauge("squad_sse_active_streams", "Open event streams", registry=self.registry)
        self.jobs = Gauge("squad_jobs", "Pipeline jobs by state", ["state"], registry=self.registry)
        # Every request to the LLM provider, retries included, by how it went (app/services/llm.py).
        self.llm_calls = Counter(
            "squad_llm_calls", "Chat Completions requests by outcome", ["outcome"], registry=self.registry
        )
        self.llm_tokens = Counter(
            "squad_llm_tokens", "Tokens the LLM provider counted, by kind", ["kind"], registry=self.registry
        )
        self.llm_cost = Counter("squad_llm_cost_usd", "What the LLM's tokens cost, in USD", registry=self.registry)


class MetricsMiddleware:
    """Counts and times every request by its route template (never the raw path: ids would explode it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            metrics: Metrics | None = getattr(getattr(scope["app"].state, "runtime", None), "metrics", None)
            if metrics is not None:
                route = _route_template(scope)
                metrics.requests.labels(scope["method"], route, str(status)).inc()
                metrics.request_seconds.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return "unmatched"
    # FastAPI keeps an included router's paths relative to its prefix.
    if scope["path"].startswith(API_PREFIX) and not route.startswith(API_PREFIX):
        return API_PREFIX + route
    return route
