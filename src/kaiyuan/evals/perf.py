"""Serving performance of any OpenAI-compatible endpoint: time to first token, per-stream
decode speed and aggregate throughput at several concurrency levels.

Every request streams (`stream_options.include_usage`), so time to first token is what a
user sees, and completion tokens come from the server's own count.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import openai

from kaiyuan.evals.runner import Endpoint

DEFAULT_PROMPT = ("Write a detailed, step-by-step explanation of how a hash map works, "
                  "with an example in Python.")


@dataclass(frozen=True)
class Stream:
    """One streamed request's timings."""

    first_token_s: float | None
    total_s: float
    completion_tokens: int

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Tokens after the first, over the time after the first."""
        if self.first_token_s is None or self.completion_tokens < 2:
            return None
        span = self.total_s - self.first_token_s
        return (self.completion_tokens - 1) / span if span > 0 else None


@dataclass(frozen=True)
class Level:
    """One concurrency level: `clients` streams at once, `requests` in all."""

    clients: int
    requests: int
    errors: int
    wall_s: float
    completion_tokens: int
    aggregate_tokens_per_s: float
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    stream_tokens_per_s_mean: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile (0..1), linearly interpolated; None for no values."""
    return float(np.percentile(values, q * 100)) if values else None


async def stream_once(client: openai.AsyncOpenAI, endpoint: Endpoint, prompt: str,
                      max_tokens: int) -> Stream:
    """Send one streamed chat request and time it."""
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    stream = await client.chat.completions.create(
        model=endpoint.model, messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if first is None and chunk.choices and _has_text(chunk.choices[0].delta):
            first = time.perf_counter() - started
    return Stream(first, time.perf_counter() - started, tokens)


def _has_text(delta: object) -> bool:
    # Reasoning arrives before content on thinking models; either is a first token.
    return any(getattr(delta, name, None) for name in ("content", "reasoning_content",
                                                       "reasoning", "tool_calls"))


async def level(endpoint: Endpoint, clients: int, rounds: int, *, prompt: str = DEFAULT_PROMPT,
                max_tokens: int = 128) -> Level:
    """`clients` concurrent clients, each sending `rounds` requests back to back."""
    if clients < 1 or rounds < 1:
        raise ValueError("clients and rounds must be at least 1")
    client = endpoint.client()
    streams: list[Stream] = []
    errors = 0

    async def one_client() -> None:
        nonlocal errors
        for _ in range(rounds):
            try:
                streams.append(await stream_once(client, endpoint, prompt, max_tokens))
            except openai.OpenAIError:
                errors += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one_client() for _ in range(clients)))
    finally:
        await client.close()
    wall = time.perf_counter() - started
    tokens = sum(s.completion_tokens for s in streams)
    ttfts = [s.first_token_s for s in streams if s.first_token_s is not None]
    rates = [r for s in streams if (r := s.decode_tokens_per_s) is not None]
    return Level(
        clients=clients,
        requests=clients * rounds,
        errors=errors,
        wall_s=wall,
        completion_tokens=tokens,
        aggregate_tokens_per_s=tokens / wall if wall > 0 else 0.0,
        ttft_p50_s=percentile(ttfts, 0.5),
        ttft_p95_s=percentile(ttfts, 0.95),
        stream_tokens_per_s_mean=statistics.fmean(rates) if rates else None,
    )


async def measure(endpoint: Endpoint, levels: Sequence[int] = (1, 2, 4, 8), rounds: int = 2,
                  *, prompt: str = DEFAULT_PROMPT, max_tokens: int = 128) -> list[Level]:
    """Each concurrency level in turn (never overlapping, so they do not disturb each
    other)."""
    return [await level(endpoint, n, rounds, prompt=prompt, max_tokens=max_tokens)
            for n in levels]
