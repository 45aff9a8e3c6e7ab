"""`kaiyuan eval`: run evaluation suites against any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from kaiyuan.evals import arena, perf, report, runner
from kaiyuan.evals.bfcl import data as bfcl_data
from kaiyuan.evals.cache import ResultCache
from kaiyuan.evals.evaluate import Evaluation, Selection, default_database, evaluate
from kaiyuan.evals.suite import Suite
from kaiyuan.evals.suites import NAMES, build
from kaiyuan.evals.suites.humaneval import pass_at
from kaiyuan.evals.sweep import Prices, parse_budgets, sweep

app = typer.Typer(help="Evaluate any OpenAI-compatible endpoint.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_suites(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The suites and their categories, with case counts."""
    rows = [{"suite": "bfcl", "category": c, "cases": bfcl_data.case_count(c)}
            for c in bfcl_data.CATEGORIES]
    rows.append({"suite": "humaneval", "category": "humaneval", "cases": 164})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Suites (kaiyuan eval run SUITE [--category C]…)")
    for column in ("suite", "category", "cases"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["suite"], row["category"], str(row["cases"]))
    console.print(table)


@app.command("run")
def run_command(
    suite: Annotated[str, typer.Argument(help=f"One of: {', '.join(NAMES)}.")],
    base_url: Annotated[str, typer.Option(help="The endpoint's OpenAI base URL.")] = (
        "http://127.0.0.1:8000/v1"),
    model: Annotated[str, typer.Option(help="Model id to send.")] = "qwen2.5-coder-0.5b",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
    category: Annotated[list[str] | None, typer.Option(
        help="BFCL categories (repeatable; default all).")] = None,
    mode: Annotated[str, typer.Option(help="BFCL: native tool calls or prompt mode.")] = (
        "native"),
    samples: Annotated[int, typer.Option(help="HumanEval: answers per problem.")] = 1,
    limit: Annotated[int | None, typer.Option(
        help="Only the first N cases of each category.")] = None,
    sample: Annotated[int | None, typer.Option(
        help="A random N cases of each category (see --seed).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --sample.")] = 0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 4,
    temperature: Annotated[float, typer.Option()] = 0.0,
    max_tokens: Annotated[int, typer.Option()] = 512,
    thinking_budget: Annotated[int | None, typer.Option(
        help="Thinking tokens allowed (sent as `thinking_budget`).")] = None,
    no_thinking: Annotated[bool, typer.Option(
        "--no-thinking", help="Send `enable_thinking: false`.")] = False,
    db: Annotated[Path | None, typer.Option(help="Results database.")] = None,
    retry_errors: Annotated[bool, typer.Option(help="Ask again cases that ended in error.")
                            ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run SUITE against an endpoint; cached cases are not asked again."""
    extra: dict[str, Any] = {}
    if thinking_budget is not None:
        extra["thinking_budget"] = thinking_budget
    if no_thinking:
        extra["enable_thinking"] = False
    params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
    if extra:
        params["extra_body"] = extra
    try:
        chosen = build(suite, categories=category or (), mode=mode, samples=samples)
        result = _evaluate(chosen, runner.Endpoint(base_url, model, api_key), params, db,
                           Selection(limit, sample, seed), concurrency, retry_errors,
                           show_progress=not as_json)
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(_as_dict(result), indent=2))
        return
    _print(result)


@app.command("sweep")
def sweep_command(
    suite: Annotated[str, typer.Argument(help=f"One of: {', '.join(NAMES)}.")],
    budgets: Annotated[str, typer.Option(
        help="Thinking budgets in tokens, comma-separated; 'off' turns thinking off.")] = (
        "off,0,256,1024,4096"),
    base_url: Annotated[str, typer.Option(help="The endpoint's OpenAI base URL.")] = (
        "http://127.0.0.1:8000/v1"),
    model: Annotated[str, typer.Option(help="Model id to send.")] = "qwen2.5-coder-0.5b",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
    category: Annotated[list[str] | None, typer.Option(help="BFCL categories.")] = None,
    mode: Annotated[str, typer.Option(help="BFCL: native or prompt.")] = "native",
    limit: Annotated[int | None, typer.Option(help="First N cases per category.")] = None,
    sample: Annotated[int | None, typer.Option(help="Random N cases per category.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    concurrency: Annotated[int, typer.Option()] = 4,
    max_tokens: Annotated[int, typer.Option(
        help="Room for thinking and answer; keep it above the largest budget.")] = 8192,
    input_price: Annotated[float, typer.Option(help="USD per million input tokens.")] = 0.0,
    output_price: Annotated[float, typer.Option(help="USD per million output tokens.")] = 0.0,
    db: Annotated[Path | None, typer.Option(help="Results database.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run SUITE at each thinking budget: accuracy, tokens, latency, cost per correct."""
    try:
        chosen = build(suite, categories=category or (), mode=mode)
        points = sweep(
            parse_budgets(budgets), {"temperature": 0.0, "max_tokens": max_tokens},
            lambda params: _evaluate(chosen, runner.Endpoint(base_url, model, api_key),
                                     params, db, Selection(limit, sample, seed), concurrency,
                                     False, show_progress=not as_json),
            Prices(input_price, output_price),
        )
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(p) for p in points], indent=2))
        return
    table = Table(title=f"{suite}: accuracy against thinking budget ({model})")
    for column in ("budget", "accuracy", "reasoning tok/case", "completion tok/case",
                   "latency s", "$/case", "$/correct"):
        table.add_column(column)
    for p in points:
        table.add_row(str(p.budget), f"{p.accuracy:.1%} ({p.correct}/{p.cases})",
                      f"{p.mean_reasoning_tokens:.0f}", f"{p.mean_completion_tokens:.0f}",
                      f"{p.mean_latency_s:.2f}" if p.mean_latency_s else "-",
                      f"{p.cost_per_case:.6f}",
                      f"{p.cost_per_correct:.6f}" if p.cost_per_correct else "-")
    console.print(table)


@app.command("perf")
def perf_command(
    base_url: Annotated[str, typer.Option(help="The endpoint's OpenAI base URL.")] = (
        "http://127.0.0.1:8000/v1"),
    model: Annotated[str, typer.Option(help="Model id to send.")] = "qwen2.5-coder-0.5b",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
    levels: Annotated[str, typer.Option(help="Concurrent clients, comma-separated.")] = (
        "1,2,4,8"),
    rounds: Annotated[int, typer.Option(help="Requests per client at each level.")] = 2,
    max_tokens: Annotated[int, typer.Option()] = 128,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Time to first token, per-stream and aggregate tokens/s at each concurrency level."""
    try:
        counts = [int(part) for part in levels.split(",") if part.strip()]
        if not counts or min(counts) < 1:
            raise ValueError("--levels needs positive whole numbers, e.g. 1,2,4,8")
        measured = asyncio.run(perf.measure(runner.Endpoint(base_url, model, api_key), counts,
                                            rounds, max_tokens=max_tokens))
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(m) for m in measured], indent=2))
        return
    table = Table(title=f"{model} @ {base_url}: streaming performance")
    for column in ("clients", "requests", "errors", "aggregate tok/s", "stream tok/s",
                   "TTFT p50 s", "TTFT p95 s"):
        table.add_column(column)

    def seconds(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "-"

    for m in measured:
        table.add_row(str(m.clients), str(m.requests), str(m.errors),
                      f"{m.aggregate_tokens_per_s:.1f}", seconds(m.stream_tokens_per_s_mean),
                      seconds(m.ttft_p50_s), seconds(m.ttft_p95_s))
    console.print(table)


@app.command("arena")
def arena_command(
    contestant: Annotated[list[str] | None, typer.Option(
        "--model", help="A contestant: MODEL, or LABEL=MODEL@BASE_URL (repeatable).")] = None,
    judge: Annotated[str | None, typer.Option(
        help="The judge: MODEL, or MODEL@BASE_URL.")] = None,
    votes: Annotated[Path | None, typer.Option(
        help="Rate from recorded human votes (JSONL) instead of a judge.")] = None,
    prompts: Annotated[Path | None, typer.Option(
        help="JSONL of {id, prompt} (default: the built-in set).")] = None,
    base_url: Annotated[str, typer.Option(help="Default base URL.")] = (
        "http://127.0.0.1:8000/v1"),
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
    max_tokens: Annotated[int, typer.Option(help="Per answer.")] = 512,
    judge_max_tokens: Annotated[int, typer.Option()] = 1024,
    concurrency: Annotated[int, typer.Option()] = 4,
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds.")] = 1000,
    db: Annotated[Path | None, typer.Option(help="Results database.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rate models pairwise: a judge model (positions swapped) or recorded votes."""
    judged = None
    try:
        if votes is not None:
            ratings = arena.arena_from_votes(votes, rounds=rounds)
        else:
            if not contestant or len(contestant) < 2 or judge is None:
                raise ValueError("give at least two --model contestants and a --judge, "
                                 "or --votes FILE")
            params = {"temperature": 0.0, "max_tokens": max_tokens}
            entrants = [arena.Contestant(label, endpoint, params)
                        for label, endpoint in (_endpoint(c, base_url, api_key)
                                                for c in contestant)]
            cache = ResultCache(db or default_database())
            try:
                with runner.progress_bar() as progress:
                    outcome = arena.arena(
                        entrants, _endpoint(judge, base_url, api_key)[1], cache,
                        prompts=arena.load_prompts(prompts) if prompts else None,
                        judge_params={"temperature": 0.0, "max_tokens": judge_max_tokens},
                        concurrency=concurrency, rounds=rounds,
                        progress=None if as_json else progress)
            finally:
                cache.close()
            ratings, judged = outcome.ratings, outcome.judged
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({
            "ratings": [dataclasses.asdict(r) for r in ratings],
            "judged": None if judged is None else {
                "battles": len(judged.battles), "total": judged.total,
                "unparseable": judged.unparseable, "inconsistent": judged.inconsistent,
                "errors": judged.errors, "position_bias_rate": judged.position_bias_rate},
        }, indent=2))
        return
    table = Table(title="Bradley-Terry ratings (95% bootstrap interval)")
    for column in ("model", "rating", "interval", "battles", "W/L/T"):
        table.add_column(column)
    for r in ratings:
        table.add_row(r.model, f"{r.rating:.0f}", f"{r.lower:.0f} to {r.upper:.0f}",
                      str(r.battles), f"{r.wins}/{r.losses}/{r.ties}")
    console.print(table)
    if judged is not None:
        bias = judged.position_bias_rate
        console.print(f"judgements {judged.total}: unparseable {judged.unparseable}, errors "
                      f"{judged.errors}; position bias "
                      + (f"{bias:.0%}" if bias is not None else "n/a"))


def _endpoint(spec: str, base_url: str, api_key: str) -> tuple[str, runner.Endpoint]:
    """`LABEL=MODEL@URL`, `MODEL@URL` or `MODEL` into a label and an endpoint."""
    label, _, rest = spec.rpartition("=") if "=" in spec else ("", "", spec)
    model, _, url = rest.partition("@")
    if not model:
        raise ValueError(f"{spec!r}: name a model, e.g. qwen2.5-coder-0.5b@http://host/v1")
    return label or model, runner.Endpoint(url or base_url, model, api_key)


@app.command("report")
def report_command(
    db: Annotated[Path | None, typer.Option(help="Results database.")] = None,
    html: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "kaiyuan-report.html"),
    markdown: Annotated[Path, typer.Option(help="Where to write the Markdown summary.")] = Path(
        "kaiyuan-report.md"),
    model: Annotated[list[str] | None, typer.Option(help="Only these models.")] = None,
    suite: Annotated[list[str] | None, typer.Option(help="Only these suites.")] = None,
    price: Annotated[list[str] | None, typer.Option(
        help="MODEL=IN,OUT: USD per million input and output tokens, for cost per "
             "correct answer (repeatable).")] = None,
    title: Annotated[str, typer.Option()] = "kaiyuan evaluation report",
) -> None:
    """Write a self-contained HTML report and a Markdown summary of the stored runs."""
    try:
        runs = report.collect(db or default_database(), models=model, suites=suite)
        if not runs:
            raise ValueError("no scored runs match; run `kaiyuan eval run` first")
        report.write_report(runs, html, markdown, title=title, prices=_prices(price or []))
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    typer.echo(f"{len(runs)} run(s): wrote {html} and {markdown}")


def _prices(items: list[str]) -> dict[str, tuple[float, float]]:
    prices = {}
    for item in items:
        name, _, pair = item.partition("=")
        try:
            low, high = (float(v) for v in pair.split(","))
        except ValueError:
            raise ValueError(f"--price {item!r}: write MODEL=IN,OUT, e.g. qwen=0.1,0.4"
                             ) from None
        prices[name] = (low, high)
    return prices


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _evaluate(suite: Suite, endpoint: runner.Endpoint, params: dict[str, Any],
              db: Path | None, selection: Selection, concurrency: int, retry_errors: bool,
              *, show_progress: bool) -> Evaluation:
    cache = ResultCache(db or default_database())
    try:
        with runner.progress_bar() as progress:
            return evaluate(suite, endpoint, params, cache, selection=selection,
                            concurrency=concurrency, retry_errors=retry_errors,
                            progress=progress if show_progress else None)
    finally:
        cache.close()


def _extras(result: Evaluation) -> dict[str, Any]:
    if result.suite.startswith("bfcl"):
        return {"bfcl_summary": bfcl_data.summarise(result.summary.by_category,
                                                    result.summary.cases_by_category)}
    if result.suite == "humaneval":
        return {"pass_at_k": pass_at(result.scores, (1, 5, 10))}
    return {}


def _as_dict(result: Evaluation) -> dict[str, Any]:
    out = dataclasses.asdict(result)
    out["scores"] = [dataclasses.asdict(s) for s in result.scores]
    return {**out, **_extras(result)}


def _print(result: Evaluation) -> None:
    table = Table(title=f"{result.suite} · {result.model} @ {result.endpoint}")
    for column in ("category", "cases", "accuracy"):
        table.add_column(column)
    for category, accuracy in result.summary.by_category.items():
        table.add_row(category, str(result.summary.cases_by_category[category]),
                      f"{accuracy:.1%}")
    table.add_row("all", str(result.summary.cases), f"{result.summary.overall:.1%}")
    console.print(table)
    for name, value in _extras(result).items():
        console.print(f"{name}: {value}")
    stats = result.stats
    console.print(
        f"asked {stats.asked}, from cache {stats.cached}, errors {result.summary.errors}; "
        f"this run {stats.wall_s:.1f} s, all runs of these settings "
        f"{result.run_time.wall_s:.1f} s over {result.run_time.invocations} invocations; "
        "mean latency "
        + (f"{result.mean_latency_s:.2f} s" if result.mean_latency_s else "n/a")
    )
