"""Accuracy of the embedded Qwen model served by kaiyuan, measured with `kaiyuan.evals`:
BFCL simple, multiple, parallel, parallel_multiple and irrelevance (native tool calls) in
one run, and HumanEval pass@1 in another, with each run's wall time.

Run by hand (`make bench-evals`), not in CI. Results go to a database of the benchmark's
own, so that a killed run resumes and its time is summed with no other run's; each
invocation's time is recorded as results arrive, so a run finished over several
invocations reports the time of all of them (the table says how many). A `--limit` smoke
check uses a throwaway database and rewrites nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from readme import write_section
from serve import BENCH_DIR, ServerSpec, machine_info, running_server

from kaiyuan.engine.embedded import DEFAULT_MODEL
from kaiyuan.evals.bfcl.data import summarise as summarise_bfcl
from kaiyuan.evals.cache import ResultCache
from kaiyuan.evals.evaluate import Evaluation, Selection, evaluate
from kaiyuan.evals.runner import Endpoint, progress_bar
from kaiyuan.evals.suites import build
from kaiyuan.evals.suites.humaneval import pass_at
from kaiyuan.home import kaiyuan_home

RESULTS_PATH = BENCH_DIR / "results" / "evals.json"
BFCL_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
PARAMS = {"temperature": 0.0, "max_tokens": 512}


def bench_database() -> Path:
    """The benchmark's own results database (resumable across invocations)."""
    return kaiyuan_home() / "bench-evals.sqlite"


def run_all(base_url: str, model: str, db: Path, limit: int | None,
            concurrency: int) -> list[tuple[str, Evaluation]]:
    """The BFCL run (its five categories), then the HumanEval run."""
    cache = ResultCache(db)
    endpoint = Endpoint(base_url, model)
    suites = (("bfcl", build("bfcl", categories=BFCL_CATEGORIES)),
              ("humaneval", build("humaneval")))
    try:
        with progress_bar() as progress:
            return [(name, evaluate(suite, endpoint, PARAMS, cache,
                                    selection=Selection(limit), concurrency=concurrency,
                                    progress=progress))
                    for name, suite in suites]
    finally:
        cache.close()


def row(name: str, run: Evaluation) -> dict[str, Any]:
    """One run's figures, per category too for BFCL."""
    out: dict[str, Any] = {
        "run": name,
        "cases": run.summary.cases,
        "correct": sum(bool(s.correct) for s in run.scores),
        "accuracy": run.summary.overall,
        "errors": run.summary.errors,
        "wall_s": run.run_time.wall_s,
        "invocations": run.run_time.invocations,
        "mean_latency_s": run.mean_latency_s,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
    }
    if name == "bfcl":
        out["categories"] = [
            {"category": category, "cases": run.summary.cases_by_category[category],
             "correct": sum(bool(s.correct) for s in run.scores if s.category == category),
             "accuracy": accuracy}
            for category, accuracy in run.summary.by_category.items()]
        out["summary"] = summarise_bfcl(run.summary.by_category, run.summary.cases_by_category)
    if name == "humaneval":
        out["pass_at_1"] = pass_at(run.scores, (1,)).get(1)
    return out


def markdown(rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    """The README section: the runs, then BFCL by category."""
    lines = [
        "## Accuracy of the embedded model (`bench/evals.py`)",
        "",
        f"{info['model']} served by `kaiyuan serve` (its defaults), asked through "
        "`kaiyuan.evals` with temperature 0 and at most 512 tokens, "
        f"{info['concurrency']} requests in flight, on {info['machine']['cpu_model']}"
        f" ({info['machine']['cpu_cores']} cores). BFCL in native tool-call mode, "
        "scored by kaiyuan's AST checker; HumanEval run in the sandbox. Wall time is the "
        "sum over the invocations that made the run (a killed run resumes from its "
        "database).",
        "",
        "| run | cases | correct | accuracy | errors | wall time | invocations "
        "| mean latency |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        latency = f"{r['mean_latency_s']:.1f} s" if r["mean_latency_s"] else "-"
        lines.append(f"| {r['run']} | {r['cases']} | {r['correct']} | {r['accuracy']:.1%} | "
                     f"{r['errors']} | {r['wall_s'] / 60:.1f} min | {r['invocations']} | "
                     f"{latency} |")
    for r in rows:
        if "categories" in r:
            lines += ["", "| BFCL category | cases | correct | accuracy |",
                      "| --- | ---: | ---: | ---: |"]
            lines += [f"| {c['category']} | {c['cases']} | {c['correct']} | "
                      f"{c['accuracy']:.1%} |" for c in r["categories"]]
            non_live = r["summary"]["non_live_ast"]
            if non_live is not None:
                lines += ["", f"BFCL non-live AST (unweighted mean of simple, multiple, "
                          f"parallel and parallel_multiple; simple is Python only): "
                          f"**{non_live:.1%}**."]
    return "\n".join(lines)


def measure(args: argparse.Namespace, db: Path) -> list[tuple[str, Evaluation]]:
    """Both runs, against `--base-url` or a `kaiyuan serve` started on `--port`."""
    if args.base_url:
        return run_all(args.base_url, DEFAULT_MODEL, db, args.limit, args.concurrency)
    command = [sys.executable, "-m", "kaiyuan.cli.main", "serve", "--port", str(args.port),
               "--log-level", "warning"]
    spec = ServerSpec("kaiyuan", command, args.port, {})
    with tempfile.TemporaryDirectory() as logs, \
            running_server(spec, Path(logs)) as (model_id, _startup, _pid):
        return run_all(spec.base_url, model_id, db, args.limit, args.concurrency)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None,
                        help="Only the first N cases of each category (a smoke check).")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--db", type=Path, default=None,
                        help=f"Results database (default {bench_database()}).")
    parser.add_argument("--base-url", default=None,
                        help="Measure this endpoint instead of starting kaiyuan serve.")
    # Results are keyed by the endpoint's URL, so a resumed run must find the server where
    # the interrupted one did: a fixed port, not a free one.
    parser.add_argument("--port", type=int, default=8801,
                        help="Port for the kaiyuan server this benchmark starts.")
    args = parser.parse_args(argv)
    started = time.time()
    with contextlib.ExitStack() as stack:
        if args.db:
            db = args.db
        elif args.limit is not None:
            db = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "smoke.sqlite"
        else:
            db = bench_database()
        runs = measure(args, db)
    rows = [row(name, run) for name, run in runs]
    info = {"model": DEFAULT_MODEL, "concurrency": args.concurrency, "limit": args.limit,
            "database": str(db), "machine": machine_info(), "started": started,
            "finished": time.time()}
    if args.limit is None:
        RESULTS_PATH.write_text(json.dumps({**info, "runs": rows}, indent=2) + "\n")
        write_section("evals", markdown(rows, info))
    print(markdown(rows, info))


if __name__ == "__main__":
    main()
