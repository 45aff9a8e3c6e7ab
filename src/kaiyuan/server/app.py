"""The FastAPI application: routes, middleware and error handlers around a set of backends."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from kaiyuan import __version__
from kaiyuan.backends.base import Backend, BackendStats
from kaiyuan.server.errors import install_error_handlers
from kaiyuan.server.limits import BodySizeLimit
from kaiyuan.server.metrics import Metrics, RequestCounter
from kaiyuan.server.routes import chat, completions, service
from kaiyuan.server.settings import ServerSettings


def _combined_stats(backends: dict[str, Backend]) -> Callable[[], BackendStats]:
    def stats() -> BackendStats:
        parts = [backend.stats() for backend in backends.values()]
        return BackendStats(
            queue_depth=sum(p.queue_depth for p in parts),
            running_sequences=sum(p.running_sequences for p in parts),
        )

    return stats


def create_app(backends: list[Backend], settings: ServerSettings | None = None) -> FastAPI:
    """An OpenAI-compatible app serving each backend under its `model_id`."""
    app = FastAPI(title="kaiyuan", version=__version__)
    app.state.settings = settings or ServerSettings()
    app.state.backends = {backend.model_id: backend for backend in backends}
    app.state.metrics = Metrics(_combined_stats(app.state.backends))
    install_error_handlers(app)
    routers = [module.router for module in (chat, completions, service)]
    for router in routers:
        app.include_router(router)
    routes = frozenset(route.path for router in routers for route in router.routes)
    app.add_middleware(RequestCounter, metrics=app.state.metrics, routes=routes)
    app.add_middleware(BodySizeLimit, max_bytes=app.state.settings.max_body_bytes)
    return app
