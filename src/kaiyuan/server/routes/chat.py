"""`POST /v1/chat/completions`."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from kaiyuan.backends.base import Finished, TextDelta
from kaiyuan.protocol.chat import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    ChunkChoice,
    Delta,
)
from kaiyuan.protocol.response import Usage
from kaiyuan.server.auth import require_api_key
from kaiyuan.server.dependencies import backend_for, raise_if_failed
from kaiyuan.server.generation import collect, sse_events, usage_of

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
        events = sse_events(stream, _ChatChunks(completion_id, backend.model_id),
                            include_usage=include_usage, metrics=metrics, started=started)
        return StreamingResponse(events, media_type="text/event-stream")
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
        usage=usage_of(stream, collected.completion_tokens),
    )
    return Response(completion.model_dump_json(), media_type="application/json")


@dataclass(frozen=True)
class _ChatChunks:
    completion_id: str
    model: str

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        return ChatCompletionChunk(
            id=self.completion_id, model=self.model, choices=choices, usage=usage
        ).model_dump_json()

    def opening(self, choices: int) -> list[str]:
        """OpenAI opens each choice with an empty assistant delta."""
        return [self._chunk([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))
                             for i in range(choices)])]

    def text(self, event: TextDelta) -> str:
        return self._chunk([ChunkChoice(index=event.index, delta=Delta(content=event.text))])

    def finish(self, event: Finished) -> str:
        return self._chunk([ChunkChoice(index=event.index, delta=Delta(),
                                        finish_reason=event.reason)])

    def usage(self, usage: Usage) -> str:
        return self._chunk([], usage)
