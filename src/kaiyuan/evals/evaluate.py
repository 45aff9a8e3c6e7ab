"""One evaluation, end to end: choose the cases, ask what is not cached, score everything
chosen, summarise."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from kaiyuan.evals import runner
from kaiyuan.evals.cache import ResultCache, RunKey, RunTime
from kaiyuan.evals.suite import CaseScore, Suite, Summary, summarise
from kaiyuan.home import kaiyuan_home


def default_database() -> Path:
    """Where results are kept unless `--db` says otherwise."""
    return kaiyuan_home() / "evals.sqlite"


@dataclass(frozen=True)
class Selection:
    """Which cases of each category: the first `limit`, or a seeded random `sample`."""

    limit: int | None = None
    sample: int | None = None
    seed: int = 0

    def choose(self, suite: Suite) -> list[str]:
        """The chosen case ids, category by category, in the suite's order."""
        by_category: dict[str, list[str]] = {}
        for case_id in suite.case_ids():
            by_category.setdefault(suite.category(case_id), []).append(case_id)
        return [case_id for ids in by_category.values()
                for case_id in runner.select(ids, limit=self.limit, sample=self.sample,
                                             seed=self.seed)]


@dataclass(frozen=True)
class Evaluation:
    """What a run produced: each case's score, the summary, and what it took."""

    suite: str
    endpoint: str
    model: str
    params: dict[str, Any]
    scores: list[CaseScore]
    summary: Summary
    stats: runner.RunStats
    run_time: RunTime
    mean_latency_s: float | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int


def evaluate(suite: Suite, endpoint: runner.Endpoint, params: dict[str, Any],
             cache: ResultCache, *, selection: Selection = Selection(), concurrency: int = 4,
             retry: runner.Retry | None = None, retry_errors: bool = False,
             progress: Progress | None = None) -> Evaluation:
    """Run `suite` against `endpoint` under `params`, resuming from `cache`."""
    chosen = selection.choose(suite)
    key = RunKey.of(endpoint.base_url, endpoint.model, suite.name, params)
    tasks = [suite.task(case_id, params) for case_id in chosen]
    stats = asyncio.run(runner.run(endpoint, key, tasks, cache, concurrency=concurrency,
                                   retry=retry or runner.Retry(), retry_errors=retry_errors,
                                   progress=progress))
    results = cache.results(key, chosen)
    scores = [suite.score(result) for result in results]
    cache.store_scores(key, ((s.case_id, s.category, s.correct, s.detail) for s in scores))
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    return Evaluation(
        suite=suite.name,
        endpoint=endpoint.base_url,
        model=endpoint.model,
        params=params,
        scores=scores,
        summary=summarise(scores),
        stats=stats,
        run_time=cache.run_time(key),
        mean_latency_s=sum(latencies) / len(latencies) if latencies else None,
        prompt_tokens=sum(r.prompt_tokens or 0 for r in results),
        completion_tokens=sum(r.completion_tokens or 0 for r in results),
        reasoning_tokens=sum(r.reasoning_tokens or 0 for r in results),
    )
