"""What every generation route needs first: the backend for the model, and the limits."""

from __future__ import annotations

from fastapi import Request

from kaiyuan.backends.base import Backend
from kaiyuan.protocol.errors import InvalidRequestError, ModelNotFoundError
from kaiyuan.protocol.sampling import SamplingFields


def backend_for(request: Request, fields: SamplingFields) -> Backend:
    """The backend serving `fields.model`, after the server-wide request limits are checked."""
    settings = request.app.state.settings
    stops = fields.stop_list()
    if len(stops) > settings.max_stop:
        raise InvalidRequestError(
            f"{len(stops)} stop strings were given; this server accepts at most "
            f"{settings.max_stop}.",
            param="stop",
        )
    backends: dict[str, Backend] = request.app.state.backends
    backend = backends.get(fields.model)
    if backend is None:
        raise ModelNotFoundError(fields.model, list(backends))
    return backend
