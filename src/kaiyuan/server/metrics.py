"""Prometheus metrics for `GET /metrics`, one registry per app."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kaiyuan.backends.base import BackendStats

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, stats: Callable[[], BackendStats]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kaiyuan_requests", "HTTP requests by route and status code.",
            ["route", "status"], registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "kaiyuan_prompt_tokens", "Prompt tokens processed.", registry=self.registry
        )
        self.cached_prompt_tokens = Counter(
            "kaiyuan_cached_prompt_tokens",
            "Prompt tokens whose KV cells were reused from an earlier request.",
            registry=self.registry,
        )
        self.completion_tokens = Counter(
            "kaiyuan_completion_tokens", "Completion tokens generated.", registry=self.registry
        )
        self.ttft = Histogram(
            "kaiyuan_time_to_first_token_seconds", "Time from request to first token.",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.itl = Histogram(
            "kaiyuan_inter_token_latency_seconds", "Time between tokens of one choice.",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        queue = Gauge(
            "kaiyuan_queue_depth", "Requests waiting for a free sequence.", registry=self.registry
        )
        queue.set_function(lambda: stats().queue_depth)
        running = Gauge(
            "kaiyuan_running_sequences", "Sequences in the running batch.", registry=self.registry
        )
        running.set_function(lambda: stats().running_sequences)


class RequestCounter:
    """ASGI middleware counting responses by route and status.

    Pure ASGI rather than `@app.middleware`, which would buffer-wrap streaming responses
    and hide client disconnects from them. Unknown paths share one label so that a scan
    of random URLs cannot grow the label set without bound.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str]):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.requests.labels(route, str(status)).inc()
