"""`POST /v1/chat/completions`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from kaiyuan.backends.base import EventStream, Finished, TextDelta
from kaiyuan.protocol.chat import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    ChunkChoice,
    Delta,
    Usage,
)
from kaiyuan.protocol.errors import InternalServerError
from kaiyuan.server.auth import require_api_key
from kaiyuan.server.dependencies import backend_for, raise_if_failed
from kaiyuan.server.generation import SSE_DONE, collect, observed, sse
from kaiyuan.server.metrics import Metrics

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    started = time.monotonic()
    backend = backend_for(request, body)
    stream = await backend.chat(body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    metrics = request.app.state.metrics
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _chunks(stream, completion_id, backend.model_id, include_usage, metrics, started)
        return StreamingResponse(chunks, media_type="text/event-stream")
    collected = await collect(stream, request, metrics, started)
    if collected is None:
        return Response(status_code=499)
    raise_if_failed(collected)
    completion = ChatCompletion(
        id=completion_id,
        model=backend.model_id,
        choices=[
            ChatChoice(index=i, message=ChatMessage(content=text), finish_reason=reason)
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
    completion_id: str,
    model: str,
    include_usage: bool,
    metrics: Metrics,
    started: float,
) -> AsyncIterator[str]:
    def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        payload = ChatCompletionChunk(id=completion_id, model=model, choices=choices, usage=usage)
        return sse(payload.model_dump_json())

    yield chunk([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))
                 for i in range(stream.choices)])
    completion_tokens = 0
    async for event in observed(stream, metrics, started):
        if isinstance(event, TextDelta):
            yield chunk([ChunkChoice(index=event.index, delta=Delta(content=event.text))])
        elif isinstance(event, Finished):
            completion_tokens += event.completion_tokens
            if event.error:
                yield sse(InternalServerError(event.error).to_response().model_dump_json())
                continue
            yield chunk([ChunkChoice(index=event.index, delta=Delta(),
                                     finish_reason=event.reason)])
    if include_usage:
        yield chunk([], Usage(prompt_tokens=stream.prompt_tokens,
                              completion_tokens=completion_tokens,
                              total_tokens=stream.prompt_tokens + completion_tokens))
    yield SSE_DONE
