"""`POST /v1/chat/completions`."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response

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
from kaiyuan.server.dependencies import backend_for
from kaiyuan.server.generation import Collected, respond

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    started = time.monotonic()
    backend = backend_for(request, body)
    stream = await backend.chat(body)
    fmt = _ChatFormat(f"chatcmpl-{uuid.uuid4().hex}", backend.model_id)
    return await respond(request, body, stream, fmt, started)


@dataclass(frozen=True)
class _ChatFormat:
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

    def whole(self, collected: Collected, usage: Usage) -> str:
        return ChatCompletion(
            id=self.completion_id,
            model=self.model,
            choices=[
                ChatChoice(index=i, message=ChatMessage(content=text), finish_reason=reason)
                for i, (text, reason) in enumerate(
                    zip(collected.texts, collected.reasons, strict=True)
                )
            ],
            usage=usage,
        ).model_dump_json()
