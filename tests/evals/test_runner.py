"""The runner against a real `kaiyuan serve`: answers stored as they come, nothing asked
twice, errors recorded rather than lost, retries only where they can help."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from conftest import SMOL, RunningServer

from kaiyuan.evals.cache import ResultCache, RunKey
from kaiyuan.evals.runner import Endpoint, Retry, Task, run, select


def chat_requests(server: RunningServer) -> int:
    """Chat requests the server has answered so far, from its Prometheus counter."""
    text = httpx.get(f"{server.url}/metrics").text
    pattern = r'kaiyuan_requests_total\{[^}]*route="/v1/chat/completions"[^}]*\} (\d+\.?\d*)'
    return int(sum(float(v) for v in re.findall(pattern, text)))


def tasks(count: int, **body) -> list[Task]:
    return [Task(f"case-{i}", {"messages": [{"role": "user", "content": f"Count to {i}."}],
                               "max_tokens": 4, "temperature": 0, **body})
            for i in range(count)]


def test_a_second_run_asks_nothing(smol: RunningServer, tmp_path: Path) -> None:
    endpoint = Endpoint(smol.base_url, SMOL)
    key = RunKey.of(smol.base_url, SMOL, "demo", {"max_tokens": 4})
    cache = ResultCache(tmp_path / "evals.sqlite")
    before = chat_requests(smol)
    first = asyncio.run(run(endpoint, key, tasks(6), cache, concurrency=3))
    assert (first.asked, first.cached, first.errors) == (6, 0, 0)
    assert chat_requests(smol) - before == 6
    results = cache.results(key)
    assert len(results) == 6
    assert all(r.response and r.completion_tokens and r.latency_s for r in results)

    second = asyncio.run(run(endpoint, key, tasks(6), cache, concurrency=3))
    assert (second.asked, second.cached) == (0, 6)
    assert chat_requests(smol) - before == 6
    spent = cache.run_time(key)
    assert spent.invocations == 2
    assert spent.wall_s >= first.wall_s + second.wall_s > 0


def test_other_parameters_are_another_run(smol: RunningServer, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "evals.sqlite")
    endpoint = Endpoint(smol.base_url, SMOL)
    asyncio.run(run(endpoint, RunKey.of(smol.base_url, SMOL, "demo", {"t": 0}), tasks(2), cache))
    again = asyncio.run(run(endpoint, RunKey.of(smol.base_url, SMOL, "demo", {"t": 1}),
                            tasks(2), cache))
    assert again.asked == 2


def test_a_bad_request_is_recorded_once_not_retried(smol: RunningServer,
                                                     tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "evals.sqlite")
    key = RunKey.of(smol.base_url, SMOL, "bad", {})
    stats = asyncio.run(run(Endpoint(smol.base_url, SMOL), key, tasks(1, temperature=9),
                            cache))
    assert stats.errors == 1
    [result] = cache.results(key)
    assert result.error.startswith("HTTP 400") and result.attempts == 1
    # An error is a finished case unless asked to retry errors.
    assert asyncio.run(run(Endpoint(smol.base_url, SMOL), key, tasks(1, temperature=9),
                           cache)).asked == 0
    assert asyncio.run(run(Endpoint(smol.base_url, SMOL), key, tasks(1, temperature=9),
                           cache, retry_errors=True)).asked == 1


def test_an_unreachable_endpoint_is_retried_then_recorded(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "evals.sqlite")
    endpoint = Endpoint("http://127.0.0.1:9/v1", "none", timeout_s=2)
    key = RunKey.of(endpoint.base_url, "none", "down", {})
    stats = asyncio.run(run(endpoint, key, tasks(2), cache,
                            retry=Retry(attempts=3, first_delay_s=0.01)))
    assert stats.errors == 2
    assert all(r.attempts == 3 and "APIConnectionError" in r.error
               for r in cache.results(key))


def test_a_seeded_sample_is_the_same_every_time() -> None:
    ids = [f"c{i}" for i in range(50)]
    assert select(ids, sample=10, seed=3) == select(ids, sample=10, seed=3)
    assert select(ids, sample=10, seed=3) != select(ids, sample=10, seed=4)
    assert select(ids, limit=5) == ids[:5]
    assert select(ids, sample=10, seed=1, limit=3) == select(ids, sample=10, seed=1)[:3]
