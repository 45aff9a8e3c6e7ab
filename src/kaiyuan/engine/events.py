"""What a running generation reports back, one event at a time, per choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length", "error", "tool_calls", "invalid_tool_call"]
"""The engine ends a sequence with the first three; the backend's reply parser may turn
"stop" into "tool_calls" or "invalid_tool_call"."""


@dataclass(frozen=True)
class TextDelta:
    """New text for choice `index` (never a partial character or a partial stop string)."""

    index: int
    text: str
    tokens: int


@dataclass(frozen=True)
class Finished:
    """Choice `index` has ended; `error` says why when `reason` is "error"."""

    index: int
    reason: FinishReason
    completion_tokens: int
    error: str | None = None
    reasoning_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens whose KV cells were reused. A request's prompt is shared by its
    choices, so only choice 0 reports them: summed over choices, each prompt counts once."""


GenerationEvent = TextDelta | Finished
