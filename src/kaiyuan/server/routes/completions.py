"""`POST /v1/completions` (the legacy text endpoint)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from kaiyuan.backends.base import Finished, TextDelta
from kaiyuan.protocol.completions import Completion, CompletionChoice, CompletionRequest
from kaiyuan.protocol.response import Usage
from kaiyuan.server.auth import require_api_key
from kaiyuan.server.dependencies import backend_for, raise_if_failed
from kaiyuan.server.generation import collect, sse_events, usage_of

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
        events = sse_events(stream, _CompletionChunks(completion_id, backend.model_id, body),
                            include_usage=include_usage, metrics=metrics, started=started)
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
        usage=usage_of(stream, collected.completion_tokens),
    )
    return Response(completion.model_dump_json(), media_type="application/json")


@dataclass(frozen=True)
class _CompletionChunks:
    completion_id: str
    model: str
    body: CompletionRequest

    def _chunk(self, choices: list[CompletionChoice], usage: Usage | None = None) -> str:
        return Completion(
            id=self.completion_id, model=self.model, choices=choices, usage=usage
        ).model_dump_json()

    def opening(self, choices: int) -> list[str]:
        return [
            self._chunk([CompletionChoice(index=i, text=echoed, finish_reason=None)])
            for i in range(choices)
            if (echoed := _echoed(self.body, i))
        ]

    def text(self, event: TextDelta) -> str:
        return self._chunk([CompletionChoice(index=event.index, text=event.text,
                                             finish_reason=None)])

    def finish(self, event: Finished) -> str:
        return self._chunk([CompletionChoice(index=event.index, text="",
                                             finish_reason=event.reason)])

    def usage(self, usage: Usage) -> str:
        return self._chunk([], usage)
