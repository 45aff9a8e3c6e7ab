"""`GET /v1/models`, `GET /health` and `GET /metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kaiyuan.protocol.models import ModelCard, ModelList
from kaiyuan.server.auth import require_api_key

router = APIRouter()


@router.get("/v1/models", dependencies=[Depends(require_api_key)])
async def list_models(request: Request) -> ModelList:
    return ModelList(data=[ModelCard(id=model_id) for model_id in request.app.state.backends])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness for load balancers; needs no API key."""
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(require_api_key)])
async def metrics(request: Request) -> Response:
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
