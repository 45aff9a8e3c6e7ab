"""Driving a backend's event stream for one HTTP request: timing, disconnects, collection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from kaiyuan.backends.base import (
    EventStream,
    Finished,
    InvalidToolCall,
    ReasoningDelta,
    ReplyEvent,
    TextDelta,
    ToolCallDelta,
)
from kaiyuan.protocol.errors import InternalServerError
from kaiyuan.protocol.response import (
    CompletionTokensDetails,
    FinishReason,
    PromptTokensDetails,
    Usage,
)
from kaiyuan.protocol.sampling import SamplingFields
from kaiyuan.server.metrics import Metrics

Part = TextDelta | ReasoningDelta | ToolCallDelta | InvalidToolCall
"""Everything a choice produces before it finishes."""


async def observed(
    stream: EventStream, metrics: Metrics, started: float
) -> AsyncIterator[ReplyEvent]:
    """The stream's events, recording latency and token metrics; cancels what is left on exit."""
    last: dict[int, float] = {}
    completion_tokens = cached_prompt_tokens = 0
    try:
        async for event in stream:
            now = time.monotonic()
            if not isinstance(event, Finished):
                if not last:
                    metrics.ttft.observe(now - started)
                elif event.index in last:
                    metrics.itl.observe(now - last[event.index])
                last[event.index] = now
            else:
                completion_tokens += event.completion_tokens
                cached_prompt_tokens += event.cached_prompt_tokens
            yield event
    finally:
        stream.cancel()
        metrics.prompt_tokens.inc(stream.prompt_tokens)
        metrics.cached_prompt_tokens.inc(cached_prompt_tokens)
        metrics.completion_tokens.inc(completion_tokens)


@dataclass
class ChoiceResult:
    """One whole choice: its answer, thinking, tool calls and why it ended."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    reason: FinishReason | None = None

    def add(self, part: Part) -> None:
        if isinstance(part, TextDelta):
            self.text += part.text
        elif isinstance(part, ReasoningDelta):
            self.reasoning += part.text
        elif isinstance(part, ToolCallDelta):
            self.tool_calls.append(part)
        else:
            self.invalid_tool_calls.append(part)


@dataclass
class Collected:
    """Every choice of a finished non-streaming request."""

    choices: list[ChoiceResult]
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_prompt_tokens: int = 0
    errors: list[str] = field(default_factory=list)


async def _until_disconnect(request: Request) -> None:
    # The body has been read already, so the next ASGI message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def collect(stream: EventStream, request: Request, metrics: Metrics,
                  started: float) -> Collected | None:
    """All choices' text, or None when the client went away first (its sequences cancelled)."""
    result = Collected([ChoiceResult() for _ in range(stream.choices)])

    async def gather() -> None:
        async for event in observed(stream, metrics, started):
            if isinstance(event, Finished):
                result.choices[event.index].reason = event.reason
                result.completion_tokens += event.completion_tokens
                result.reasoning_tokens += event.reasoning_tokens
                result.cached_prompt_tokens += event.cached_prompt_tokens
                if event.error:
                    result.errors.append(event.error)
            else:
                result.choices[event.index].add(event)

    work = asyncio.ensure_future(gather())
    watcher = asyncio.ensure_future(_until_disconnect(request))
    try:
        done, _ = await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watcher):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work not in done:
        return None
    work.result()
    return result


def sse(payload: str) -> str:
    return f"data: {payload}\n\n"


def usage_of(stream: EventStream, completion_tokens: int, reasoning_tokens: int,
             cached_prompt_tokens: int) -> Usage:
    return Usage(
        prompt_tokens=stream.prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=stream.prompt_tokens + completion_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached_prompt_tokens),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning_tokens),
    )


class EndpointFormat(Protocol):
    """How one endpoint writes its stream chunks and its whole response (as JSON strings)."""

    def opening(self, choices: int) -> list[str]: ...
    def part(self, event: Part) -> list[str]: ...
    def finish(self, event: Finished) -> str: ...
    def usage(self, usage: Usage) -> str: ...
    def whole(self, collected: Collected, usage: Usage) -> str: ...


async def sse_events(
    stream: EventStream, fmt: EndpointFormat, *, include_usage: bool, metrics: Metrics,
    started: float,
) -> AsyncIterator[str]:
    """The SSE body of a streaming response: chunks, a failed choice's error, usage, [DONE]."""
    for payload in fmt.opening(stream.choices):
        yield sse(payload)
    completion_tokens = reasoning_tokens = cached_prompt_tokens = 0
    async for event in observed(stream, metrics, started):
        if not isinstance(event, Finished):
            for payload in fmt.part(event):
                yield sse(payload)
            continue
        completion_tokens += event.completion_tokens
        reasoning_tokens += event.reasoning_tokens
        cached_prompt_tokens += event.cached_prompt_tokens
        if event.error:
            yield sse(InternalServerError(event.error).to_response().model_dump_json())
        else:
            yield sse(fmt.finish(event))
    if include_usage:
        yield sse(fmt.usage(usage_of(stream, completion_tokens, reasoning_tokens,
                                     cached_prompt_tokens)))
    yield sse("[DONE]")


async def respond(
    request: Request, fields: SamplingFields, stream: EventStream, fmt: EndpointFormat,
    started: float,
) -> Response:
    """Stream the generation as SSE, or wait for it and answer with the whole response.

    Request fields the backend ignored are named in an `X-Kaiyuan-Warning` header.
    """
    metrics: Metrics = request.app.state.metrics
    headers = {"X-Kaiyuan-Warning": " ".join(stream.warnings)} if stream.warnings else None
    if fields.stream:
        include_usage = bool(fields.stream_options and fields.stream_options.include_usage)
        events = sse_events(stream, fmt, include_usage=include_usage, metrics=metrics,
                            started=started)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    collected = await collect(stream, request, metrics, started)
    if collected is None:  # the client has gone; nobody reads this
        return Response(status_code=499)
    if collected.errors:
        raise InternalServerError("Generation failed: " + "; ".join(collected.errors))
    usage = usage_of(stream, collected.completion_tokens, collected.reasoning_tokens,
                     collected.cached_prompt_tokens)
    return Response(fmt.whole(collected, usage), media_type="application/json", headers=headers)
