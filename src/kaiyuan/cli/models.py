"""`kaiyuan models`: what can be served here, and the catalog of open-weight models to
choose from (list, show, compare, fit, cost, recommend)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from kaiyuan.catalog import cost as costing
from kaiyuan.catalog import fit as fitting
from kaiyuan.catalog import quant as quantization
from kaiyuan.catalog import recommend as ranking
from kaiyuan.catalog import store
from kaiyuan.catalog.fit import Target
from kaiyuan.catalog.quant import UnknownQuantError
from kaiyuan.catalog.store import Catalog, UnknownIdError
from kaiyuan.cli import catalog_views as views
from kaiyuan.engine.embedded import EMBEDDED_MODELS, ModelUnavailableError

app = typer.Typer(help="Models: the local ones, and the catalog to choose from.",
                  no_args_is_help=True)


@app.command("local")
def local(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the embedded models and whether their files are ready on this machine."""
    rows = []
    for model in EMBEDDED_MODELS.values():
        path, status = None, "not installed"
        if model.installed():
            try:
                path = model.path()
                status = "ready"
            except ModelUnavailableError as exc:
                status = f"unusable: {exc}"
        rows.append(
            {
                "alias": model.alias,
                "name": model.name,
                "licence": model.licence,
                "status": status,
                "path": str(path) if path else None,
                "size_bytes": path.stat().st_size if path else None,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Embedded models (use the alias with --model, or pass any GGUF path)")
    for column in ("alias", "name", "licence", "status", "size", "path"):
        table.add_column(column)
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:.0f} MB" if row["size_bytes"] else ""
        table.add_row(row["alias"], row["name"], row["licence"], row["status"], size,
                      row["path"] or "")
    Console().print(table)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Unknown ids and impossible arguments become one line on stderr and exit code 2."""
    try:
        yield
    except (UnknownIdError, UnknownQuantError, ValueError) as exc:
        _fail(str(exc.args[0]) if exc.args else str(exc))


def _target(catalog: Catalog, device: str | None, memory: float | None,
            bandwidth: float | None, usable: float | None) -> Target:
    if device and memory is not None:
        _fail("give either --device or --memory, not both")
    if memory is not None:
        if memory <= 0:
            _fail(f"--memory must be a positive number of GiB, not {memory:g}")
        if bandwidth is not None and bandwidth <= 0:
            _fail(f"--bandwidth must be a positive number of GB/s, not {bandwidth:g}")
        return Target(f"{memory:g} GiB", memory, bandwidth, usable or 1.0)
    if not device:
        _fail("say where it should run: --device ID (see `kaiyuan models devices`) or "
              "--memory GIB [--bandwidth GB/S]")
    if usable is not None and not 0 < usable <= 1:
        _fail("--usable must be a fraction in (0, 1]")
    return Target.of(catalog.device(device), usable)


Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Quant = Annotated[str, typer.Option("--quant", "-q", help="Q4_K_M, Q8_0, BF16, FP8, INT4…")]
Device = Annotated[str | None, typer.Option("--device", "-d", help="A device id.")]
MemoryGib = Annotated[float | None, typer.Option("--memory", help="Memory in GiB.")]
Bandwidth = Annotated[float | None, typer.Option("--bandwidth", help="Peak GB/s.")]
Usable = Annotated[float | None, typer.Option(
    "--usable", help="Share of the memory the model may use (default 1 for GPUs, 0.75 else).")]
Context = Annotated[int, typer.Option("--context", "-c", help="Tokens per sequence.")]


@app.command("list")
def list_models(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    as_json: Json = False,
) -> None:
    """List the catalog's open-weight models."""
    models = [m for m in store.default().models.values()
              if organisation is None or organisation.lower() in m.organisation.lower()]
    if as_json:
        typer.echo(views.to_json(models))
        return
    views.model_list(models)


@app.command("show")
def show(model_id: str, as_json: Json = False) -> None:
    """Every fact about one model, each with its source."""
    catalog = store.default()
    with _clear_errors():
        model = catalog.model(model_id)
    if as_json:
        sources = {k: v for k, v in catalog.sources[model.id].items()
                   if k in model.referenced_sources()}
        typer.echo(views.to_json({"model": model, "sources": sources}))
        return
    views.model_show(model, catalog)


@app.command("compare")
def compare(model_ids: list[str], as_json: Json = False) -> None:
    """Models side by side: shape, licence, published scores, cheapest API price."""
    catalog = store.default()
    with _clear_errors():
        models = [catalog.model(m) for m in model_ids]
    if as_json:
        typer.echo(views.to_json(models))
        return
    views.model_compare(models)


@app.command("devices")
def devices(as_json: Json = False) -> None:
    """The device table that --device refers to."""
    listed = list(store.default().devices.values())
    if as_json:
        typer.echo(views.to_json(listed))
        return
    table = Table(title="Devices")
    for column in ("id", "name", "kind", "memory GiB", "bandwidth GB/s"):
        table.add_column(column)
    for d in listed:
        table.add_row(d.id, d.name, d.kind, f"{d.memory_gib:g}", f"{d.bandwidth_gbs:g}")
    Console().print(table)


@app.command("fit")
def fit_command(
    model_id: str,
    quant: Quant = "Q4_K_M",
    device: Device = None,
    memory: MemoryGib = None,
    bandwidth: Bandwidth = None,
    usable: Usable = None,
    context: Context = 8192,
    sequences: Annotated[int, typer.Option(help="Concurrent sequences.")] = 1,
    kv_type: Annotated[str, typer.Option(help="KV cache type: f16, q8_0, q4_0, fp8.")] = "f16",
    as_json: Json = False,
) -> None:
    """Does MODEL fit a device at a quantization, by how much, and what would make it fit."""
    catalog = store.default()
    with _clear_errors():
        model = catalog.model(model_id)
        scheme = quantization.scheme(quant)
        target = _target(catalog, device, memory, bandwidth, usable)
        report = fitting.fit(model, scheme, target, fitting.Workload(context, sequences, kv_type),
                             alternatives=list(catalog.devices.values()))
    if as_json:
        typer.echo(views.to_json(report))
    else:
        views.fit_report(report)


@app.command("cost")
def cost_command(
    model_id: str,
    device: Device = None,
    hourly: Annotated[float | None, typer.Option(
        help="USD per hour for the device (default: the catalog's rental price).")] = None,
    tokens_per_second: Annotated[float | None, typer.Option(
        help="Measured aggregate output tokens/s (default: bandwidth estimate).")] = None,
    concurrency: Annotated[int, typer.Option(
        help="Streams served at once, for the estimate.")] = 1,
    utilisation: Annotated[float, typer.Option(help="Share of hours busy.")] = 0.5,
    quant: Quant = "Q4_K_M",
    requests: Annotated[float | None, typer.Option(help="Requests per month.")] = None,
    input_tokens: Annotated[float, typer.Option(help="Input tokens per request.")] = 1000,
    output_tokens: Annotated[float, typer.Option(help="Output tokens per request.")] = 300,
    as_json: Json = False,
) -> None:
    """MODEL's API prices against self-hosting it, per million tokens and per month."""
    catalog = store.default()
    with _clear_errors():
        model = catalog.model(model_id)
        workload = (costing.Workload(requests, input_tokens, output_tokens)
                    if requests is not None else None)
        hosting = None
        if device:
            hosting = costing.self_hosting(
                model, catalog.device(device), quantization.scheme(quant), hourly=hourly,
                tokens_per_second=tokens_per_second, concurrency=concurrency,
                utilisation=utilisation)
        report = costing.cost(model, hosting, workload)
    if as_json:
        typer.echo(views.to_json(report))
    else:
        views.cost_report(report)


@app.command("recommend")
def recommend_command(
    use_case: Annotated[str, typer.Option(
        "--use-case", "-u",
        help="chat, coding, math, agent, long-context, multilingual or edge.")],
    licence: Annotated[str, typer.Option(help="any or permissive.")] = "any",
    language: Annotated[list[str] | None, typer.Option(
        help="ISO 639-1 code the model must support; repeatable.")] = None,
    device: Device = None,
    memory: MemoryGib = None,
    bandwidth: Bandwidth = None,
    usable: Usable = None,
    quant: Quant = "Q4_K_M",
    context: Annotated[int | None, typer.Option(
        "--context", "-c", help="Required context in tokens (default: none; 8192 for fit).")
    ] = None,
    max_cost: Annotated[float | None, typer.Option(
        help="Highest acceptable API price, USD per million tokens (3:1 blend).")] = None,
    thinking: Annotated[bool, typer.Option(help="Require a thinking model.")] = False,
    tools: Annotated[bool, typer.Option(help="Require native tool calling.")] = False,
    prefer: Annotated[str, typer.Option(help="Rank by quality, cost or size.")] = "quality",
    top: Annotated[int, typer.Option(help="How many to show.")] = 5,
    as_json: Json = False,
) -> None:
    """Rank the catalog's models for a use case and constraints, with reasons."""
    catalog = store.default()
    if use_case not in ranking.USE_CASE_BENCHMARKS:
        _fail(f"unknown use case '{use_case}'; use one of "
              f"{', '.join(ranking.USE_CASE_BENCHMARKS)}")
    if licence not in ("any", "permissive"):
        _fail(f"--licence is 'any' or 'permissive', not '{licence}'")
    if prefer not in ("quality", "cost", "size"):
        _fail(f"--prefer is quality, cost or size, not '{prefer}'")
    with _clear_errors():
        target = (_target(catalog, device, memory, bandwidth, usable)
                  if device or memory is not None else None)
        req = ranking.Requirements(
            use_case=use_case, licence=licence, languages=tuple(language or ()),
            target=target, quant=quantization.scheme(quant), context=context,
            max_usd_per_million=max_cost, thinking=thinking, tools=tools, prefer=prefer,
        )
        result = ranking.recommend(catalog.models.values(), req)
    if as_json:
        typer.echo(views.to_json({
            "ranked": [{"model": c.model.id, "quality": c.quality, "scores": c.scores,
                        "missing_scores": c.missing, "memory_gib": c.memory_gib,
                        "tokens_per_second": c.tokens_per_second,
                        "cheapest_price": c.cheapest_price, "reasons": c.reasons,
                        "tradeoffs": c.tradeoffs} for c in result.ranked[:top]],
            "excluded": [{"model": e.model.id, "why": e.why} for e in result.excluded],
            "notes": result.notes,
        }))
        return
    views.recommendation(result, top)
