"""Ask an OpenAI-compatible endpoint every case of a suite: a bounded number of requests
in flight, retries with backoff on rate limits, server errors and timeouts, every answer
stored as it arrives, and nothing asked twice.

The official `openai` client sends the requests, so what is measured is what a user's own
code would see.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kaiyuan.evals.cache import Result, ResultCache, RunKey

# Worth asking again: the server may recover. Anything else (a 400 for a bad request, a
# 401) will fail the same way every time.
_RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
              openai.APIConnectionError)


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests: any OpenAI-compatible base URL, its key and a model id."""

    base_url: str
    model: str
    api_key: str = "none"
    timeout_s: float = 600.0

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key,
                                  timeout=self.timeout_s, max_retries=0)


@dataclass(frozen=True)
class Task:
    """One request to make: the chat-completions body without `model`."""

    case_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with jitter: `attempts` tries in all, waits doubling from
    `first_delay_s` up to `max_delay_s`."""

    attempts: int = 4
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, attempt: int) -> float:
        base = min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        return base * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class RunStats:
    """What one invocation did: cases asked now, found in the cache, ended in error."""

    asked: int
    cached: int
    errors: int
    wall_s: float


def select(case_ids: Sequence[str], *, limit: int | None = None, sample: int | None = None,
           seed: int = 0) -> list[str]:
    """The cases to run: the first `limit`, or a seeded random `sample` (same seed, same
    cases, so a resumed run asks for the same ones)."""
    if (limit is not None and limit < 0) or (sample is not None and sample < 0):
        raise ValueError("--limit and --sample must not be negative")
    chosen = list(case_ids)
    if sample is not None and sample < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, sample), key=chosen.index)
    if limit is not None:
        chosen = chosen[:limit]
    return chosen


async def ask(client: openai.AsyncOpenAI, endpoint: Endpoint, task: Task,
              retry: Retry) -> Result:
    """Send one task, retrying what may succeed later; an error is a result too."""
    error = None
    for attempt in range(1, retry.attempts + 1):
        started = time.perf_counter()
        try:
            response = await client.chat.completions.create(model=endpoint.model, **task.body)
        except _RETRYABLE as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt < retry.attempts:
                await asyncio.sleep(retry.delay(attempt))
            continue
        except openai.APIStatusError as exc:
            return Result(task.case_id, None, f"HTTP {exc.status_code}: {exc.message}", None,
                          None, None, None, None, attempt)
        latency = time.perf_counter() - started
        usage = response.usage
        details = getattr(usage, "completion_tokens_details", None) if usage else None
        return Result(
            case_id=task.case_id,
            response=response.model_dump(mode="json", exclude_none=True),
            error=None,
            latency_s=latency,
            first_token_s=None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            reasoning_tokens=getattr(details, "reasoning_tokens", None) if details else None,
            attempts=attempt,
        )
    return Result(task.case_id, None, error, None, None, None, None, None, retry.attempts)


def progress_bar() -> Progress:
    """A Rich progress bar with count, rate and time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


async def run(endpoint: Endpoint, key: RunKey, tasks: Sequence[Task], cache: ResultCache, *,
              concurrency: int = 4, retry: Retry = Retry(), retry_errors: bool = False,
              progress: Progress | None = None) -> RunStats:
    """Ask every task of `key` that the cache does not hold yet, `concurrency` at a time.

    Results are stored one by one as they arrive. Cases that ended in an error are asked
    again only with `retry_errors`."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    done = cache.done(key, include_errors=not retry_errors)
    todo = [t for t in tasks if t.case_id not in done]
    started = time.perf_counter()
    bar = progress.add_task(key.suite, total=len(tasks), completed=len(tasks) - len(todo),
                            rate="") if progress else None
    gate = asyncio.Semaphore(concurrency)
    errors = 0
    finished = 0
    client = endpoint.client()
    invocation = cache.begin_run(key, cached=len(tasks) - len(todo))

    async def one(task: Task) -> None:
        nonlocal errors, finished
        async with gate:
            result = await ask(client, endpoint, task, retry)
        cache.store(key, result)
        errors += result.error is not None
        finished += 1
        cache.record_progress(invocation, time.perf_counter() - started, finished, errors)
        if progress is not None and bar is not None:
            rate = finished / max(time.perf_counter() - started, 1e-9)
            progress.update(bar, advance=1, rate=f"{rate:.2f} cases/s")

    try:
        await asyncio.gather(*(one(t) for t in todo))
    finally:
        await client.close()
        stats = RunStats(asked=finished, cached=len(tasks) - len(todo), errors=errors,
                         wall_s=time.perf_counter() - started)
        cache.record_progress(invocation, stats.wall_s, stats.asked, stats.errors)
    return stats
