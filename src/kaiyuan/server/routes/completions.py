"""`POST /v1/completions` (the legacy text endpoint)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from kaiyuan.backends.base import EventStream, Finished, TextDelta
from kaiyuan.protocol.chat import Usage
from kaiyuan.protocol.completions import Completion, CompletionChoice, CompletionRequest
from kaiyuan.protocol.errors import InternalServerError
from kaiyuan.server.auth import require_api_key
from kaiyuan.server.dependencies import backend_for, raise_if_failed
from kaiyuan.server.generation import SSE_DONE, collect, observed, sse
from kaiyuan.server.metrics import Metrics

router = APIRouter(dependencies=[Depends(require_api_key)])


def _echoed(body: CompletionRequest, index: int) -> str:
    """With `echo`, each choice starts with its own prompt (text prompts only)."""
    if not body.echo:
        return ""
    prompt = body.prompts()[index // body.n]
    return prompt if isinstance(prompt, str) else ""


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> Response:
    started = time.monotonic()
    backend = backend_for(request, body)
    stream = await backend.complete(body)
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    metrics = request.app.state.metrics
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _chunks(stream, body, completion_id, backend.model_id, include_usage, metrics,
                         started)
        return StreamingResponse(events, media_type="text/event-stream")
    collected = await collect(stream, request, metrics, started)
    if collected is None:
        return Response(status_code=499)
    raise_if_failed(collected)
    completion = Completion(
        id=completion_id,
        model=backend.model_id,
        choices=[
            CompletionChoice(index=i, text=_echoed(body, i) + text, finish_reason=reason)
            for i, (text, reason) in enumerate(zip(collected.texts, collected.reasons, strict=True))
        ],
        usage=Usage(
            prompt_tokens=stream.prompt_tokens,
            completion_tokens=collected.completion_tokens,
            total_tokens=stream.prompt_tokens + collected.completion_tokens,
        ),
    )
    return Response(completion.model_dump_json(), media_type="application/json")


async def _chunks(
    stream: EventStream,
    body: CompletionRequest,
    completion_id: str,
    model: str,
    include_usage: bool,
    metrics: Metrics,
    started: float,
) -> AsyncIterator[str]:
    def chunk(choices: list[CompletionChoice], usage: Usage | None = None) -> str:
        return sse(Completion(id=completion_id, model=model, choices=choices,
                              usage=usage).model_dump_json())

    for i in range(stream.choices):
        if echoed := _echoed(body, i):
            yield chunk([CompletionChoice(index=i, text=echoed, finish_reason=None)])
    completion_tokens = 0
    async for event in observed(stream, metrics, started):
        if isinstance(event, TextDelta):
            yield chunk([CompletionChoice(index=event.index, text=event.text, finish_reason=None)])
        elif isinstance(event, Finished):
            completion_tokens += event.completion_tokens
            if event.error:
                yield sse(InternalServerError(event.error).to_response().model_dump_json())
                continue
            yield chunk([CompletionChoice(index=event.index, text="", finish_reason=event.reason)])
    if include_usage:
        yield chunk([], Usage(prompt_tokens=stream.prompt_tokens,
                              completion_tokens=completion_tokens,
                              total_tokens=stream.prompt_tokens + completion_tokens))
    yield SSE_DONE
