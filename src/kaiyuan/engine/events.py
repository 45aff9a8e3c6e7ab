"""What a running generation reports back, one event at a time, per choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length", "error"]


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


GenerationEvent = TextDelta | Finished
