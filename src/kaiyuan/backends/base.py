"""The one interface the server talks to, whatever produces the tokens."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from kaiyuan.engine.events import Finished, GenerationEvent, TextDelta
from kaiyuan.protocol.chat import ChatCompletionRequest
from kaiyuan.protocol.completions import CompletionRequest

__all__ = ["Backend", "BackendStats", "EventStream", "Finished", "TextDelta"]


@dataclass(frozen=True)
class BackendStats:
    queue_depth: int
    running_sequences: int


class EventStream:
    """The events of one request's choices, as an async iterator; `cancel` stops them.

    Producers call `push` from any thread; iteration ends once every choice has finished.
    """

    def __init__(self, choices: int, prompt_tokens: int):
        self.choices = choices
        self.prompt_tokens = prompt_tokens
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[GenerationEvent] = asyncio.Queue()
        self._cancellers: list[Callable[[], None]] = []

    def push(self, event: GenerationEvent) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def on_cancel(self, cancel: Callable[[], None]) -> None:
        self._cancellers.append(cancel)

    def cancel(self) -> None:
        for cancel in self._cancellers:
            cancel()

    async def __aiter__(self) -> AsyncIterator[GenerationEvent]:
        remaining = self.choices
        while remaining:
            event = await self._queue.get()
            if isinstance(event, Finished):
                remaining -= 1
            yield event


class Backend(ABC):
    """Serves one model id. Validation errors are raised as `APIError` before any event."""

    model_id: str

    @abstractmethod
    async def chat(self, request: ChatCompletionRequest) -> EventStream: ...

    @abstractmethod
    async def complete(self, request: CompletionRequest) -> EventStream: ...

    @abstractmethod
    def stats(self) -> BackendStats: ...

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing here
        """Release the backend's resources."""
