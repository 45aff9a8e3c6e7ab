"""Accuracy of the embedded Qwen model served by kaiyuan, measured with `kaiyuan.evals`:
BFCL simple, multiple, parallel, parallel_multiple and irrelevance (native tool calls) and
HumanEval pass@1, with each run's wall time.

Run by hand (`make bench-evals`), not in CI. Results are cached in the evaluation
database, so an interrupted run resumes; `bench/results/evals.json` and the `evals`
section of bench/README.md are rewritten when it finishes. Wall times are those of the
finishing invocation, so the published figures come from one uninterrupted run (the
table says how many cases came from the cache).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from readme import write_section
from serve import BENCH_DIR, ServerSpec, free_port, machine_info, running_server

from kaiyuan.engine.embedded import DEFAULT_MODEL
from kaiyuan.evals.cache import ResultCache
from kaiyuan.evals.evaluate import Evaluation, Selection, default_database, evaluate
from kaiyuan.evals.runner import Endpoint, progress_bar
from kaiyuan.evals.suites import build
from kaiyuan.evals.suites.humaneval import pass_at

RESULTS_PATH = BENCH_DIR / "results" / "evals.json"
BFCL_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
PARAMS = {"temperature": 0.0, "max_tokens": 512}


def run_all(base_url: str, model: str, db: Path, limit: int | None,
            concurrency: int) -> list[tuple[str, Evaluation]]:
    """Each BFCL category, then HumanEval, one run each (so each has its wall time)."""
    cache = ResultCache(db)
    endpoint = Endpoint(base_url, model)
    runs: list[tuple[str, Evaluation]] = []
    try:
        with progress_bar() as progress:
            for category in BFCL_CATEGORIES:
                suite = build("bfcl", categories=(category,))
                runs.append((f"bfcl {category}", evaluate(
                    suite, endpoint, PARAMS, cache, selection=Selection(limit),
                    concurrency=concurrency, progress=progress)))
            runs.append(("humaneval", evaluate(
                build("humaneval"), endpoint, PARAMS, cache, selection=Selection(limit),
                concurrency=concurrency, progress=progress)))
    finally:
        cache.close()
    return runs


def row(name: str, run: Evaluation) -> dict[str, Any]:
    out = {
        "run": name,
        "cases": run.summary.cases,
        "correct": sum(bool(s.correct) for s in run.scores),
        "accuracy": run.summary.overall,
        "errors": run.summary.errors,
        # This invocation's time: results cached by an earlier, interrupted invocation
        # are not in it, so record figures from an uninterrupted run.
        "wall_s": run.stats.wall_s,
        "asked": run.stats.asked,
        "cached": run.stats.cached,
        "mean_latency_s": run.mean_latency_s,
        "completion_tokens": run.completion_tokens,
    }
    if name == "humaneval":
        out["pass_at_1"] = pass_at(run.scores, (1,)).get(1)
    return out


def markdown(rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        "## Accuracy of the embedded model (`bench/evals.py`)",
        "",
        f"{info['model']} served by `kaiyuan serve` (its defaults), asked through "
        "`kaiyuan.evals` with temperature 0 and at most 512 tokens, "
        f"{info['concurrency']} requests in flight, on {info['machine']['cpu_model']}"
        f" ({info['machine']['cpu_cores']} cores). BFCL in native tool-call mode, "
        "scored by kaiyuan's AST checker; HumanEval run in the sandbox.",
        "",
        "| run | cases | correct | accuracy | errors | wall time | from cache | mean latency |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        latency = f"{r['mean_latency_s']:.1f} s" if r["mean_latency_s"] else "-"
        lines.append(f"| {r['run']} | {r['cases']} | {r['correct']} | {r['accuracy']:.1%} | "
                     f"{r['errors']} | {r['wall_s'] / 60:.1f} min | {r['cached']} | "
                     f"{latency} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None,
                        help="Only the first N cases of each run (a smoke check).")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--db", type=Path, default=None, help="Results database.")
    parser.add_argument("--base-url", default=None,
                        help="Measure this endpoint instead of starting kaiyuan serve.")
    args = parser.parse_args(argv)
    db = args.db or default_database()
    started = time.time()
    if args.base_url:
        runs = run_all(args.base_url, DEFAULT_MODEL, db, args.limit, args.concurrency)
    else:
        port = free_port()
        command = [sys.executable, "-m", "kaiyuan.cli.main", "serve", "--port", str(port),
                   "--log-level", "warning"]
        spec = ServerSpec("kaiyuan", command, port, {})
        with tempfile.TemporaryDirectory() as logs, \
                running_server(spec, Path(logs)) as (model_id, _startup, _pid):
            runs = run_all(spec.base_url, model_id, db, args.limit, args.concurrency)
    rows = [row(name, run) for name, run in runs]
    info = {"model": DEFAULT_MODEL, "concurrency": args.concurrency, "limit": args.limit,
            "machine": machine_info(), "finished": time.time(), "started": started}
    if args.limit is None:
        RESULTS_PATH.write_text(json.dumps({**info, "runs": rows}, indent=2) + "\n")
        write_section("evals", markdown(rows, info))
    print(markdown(rows, info))


if __name__ == "__main__":
    main()
