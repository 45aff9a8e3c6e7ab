"""Rich renderings of the catalog's answers, for `kaiyuan models …`; scripts get the
same objects as JSON instead."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from kaiyuan.catalog.cost import CostReport
from kaiyuan.catalog.fit import GIB, FitReport
from kaiyuan.catalog.recommend import Recommendation
from kaiyuan.catalog.schema import Model
from kaiyuan.catalog.store import Catalog

console = Console()


def to_json(value: Any) -> str:
    """Dataclasses and pydantic models, as indented JSON."""
    return json.dumps(_plain(value), indent=2, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def params(model: Model) -> str:
    if model.moe:
        return f"{model.params_b:g}B / {model.active_b:g}B active"
    return f"{model.params_b:g}B"


def model_list(models: list[Model]) -> None:
    table = Table(title=f"{len(models)} open-weight models (kaiyuan models show ID for sources)")
    for column in ("id", "organisation", "params", "licence", "thinking", "context", "tools",
                   "released"):
        table.add_column(column)
    for m in models:
        table.add_row(m.id, m.organisation, params(m), m.licence, m.thinking,
                      f"{m.architecture.context:,}", m.tool_format or "-",
                      m.released.isoformat())
    console.print(table)


def model_show(model: Model, catalog: Catalog) -> None:
    def cite(section: Any, fact: str) -> str:
        key = section.source_of(fact)
        return catalog.source(model, key).url if key else ""

    arch = model.architecture
    facts = Table(title=f"{model.name} ({model.id})", show_lines=False)
    facts.add_column("fact")
    facts.add_column("value")
    facts.add_column("source", overflow="fold")
    rows: list[tuple[str, str, str]] = [
        ("organisation", f"{model.organisation} ({model.country})", ""),
        ("released", model.released.isoformat(), cite(model, "released")),
        ("licence", model.licence, cite(model, "licence")),
        ("parameters", f"{model.params_b:g}B", cite(model, "params_b")),
    ]
    if model.moe:
        rows.append(("active parameters", f"{model.active_b:g}B",
                     cite(model, "active_params_b")))
        rows.append(("experts", f"{model.moe.experts} routed, {model.moe.active} per token, "
                     f"{model.moe.shared} shared", cite(model.moe, "experts")))
    rows.append(("attention", arch.kind, cite(arch, "layers")))
    for fact in ("layers", "hidden", "heads", "kv_heads", "head_dim", "kv_lora_rank",
                 "rope_head_dim", "kv_layers", "vocab", "context"):
        value = getattr(arch, fact)
        if value is not None:
            rows.append((fact, f"{value:,}", cite(arch, fact)))
    if arch.window:
        rows.append(("windowed layers", f"{arch.window.layers} x {arch.window.tokens:,} "
                     "tokens", cite(arch, "window")))
    rows += [
        ("thinking", model.thinking, ""),
        ("tool-call format", model.tool_format or "none documented", ""),
        ("modalities", ", ".join(model.modalities), ""),
    ]
    if model.languages or model.language_count:
        stated = ", ".join(model.languages)
        if model.language_count:
            stated = f"{model.language_count} languages" + (f" ({stated})" if stated else "")
        rows.append(("languages", stated, cite(model, "language_count")))
    for row in rows:
        facts.add_row(*row)
    console.print(facts)
    if model.benchmarks:
        table = Table(title="Published scores")
        for column in ("benchmark", "score", "setting", "by", "source"):
            table.add_column(column, overflow="fold")
        for b in model.benchmarks:
            name = b.name + (f" {b.version}" if b.version else "")
            table.add_row(name, f"{b.score:g}", b.setting or "", b.measured_by,
                          catalog.source(model, b.src).url)
        console.print(table)
    if model.prices:
        table = Table(title="API prices, USD per million tokens")
        for column in ("provider", "input", "cached input", "output", "seen", "source"):
            table.add_column(column, overflow="fold")
        for p in sorted(model.prices, key=lambda p: p.output):
            table.add_row(p.provider, f"{p.input:g}",
                          f"{p.cached_input:g}" if p.cached_input is not None else "",
                          f"{p.output:g}", p.seen.isoformat(),
                          catalog.source(model, p.src).url)
        console.print(table)


def model_compare(models: list[Model]) -> None:
    table = Table(title="Comparison")
    table.add_column("")
    for m in models:
        table.add_column(m.id)
    table.add_row("parameters", *(params(m) for m in models))
    table.add_row("licence", *(m.licence for m in models))
    table.add_row("attention", *(m.architecture.kind for m in models))
    table.add_row("context", *(f"{m.architecture.context:,}" for m in models))
    table.add_row("thinking", *(m.thinking for m in models))
    table.add_row("tools", *(m.tool_format or "-" for m in models))
    names = sorted({b.name for m in models for b in m.benchmarks})
    for name in names:
        cells = []
        for m in models:
            rows = [b for b in m.benchmarks if b.name == name]
            cells.append(" / ".join(f"{b.score:g}" + (f" ({b.setting})" if b.setting else "")
                                    for b in rows) or "-")
        table.add_row(name, *cells)
    cheapest = []
    for m in models:
        best = min(m.prices, key=lambda p: p.output, default=None)
        cheapest.append(f"${best.input:g} / ${best.output:g} ({best.provider})" if best
                        else "-")
    table.add_row("API in / out $/M", *cheapest)
    console.print(table)


def fit_report(report: FitReport) -> None:
    verdict = "[green]fits[/green]" if report.fits else "[red]does not fit[/red]"
    margin = abs(report.margin_bytes) / GIB
    console.print(
        f"{report.model} at {report.quant} on {report.target.name}: {verdict} — "
        f"needs {report.memory.total / GIB:.1f} GiB of {report.target.usable_bytes / GIB:.1f} "
        f"GiB usable ({margin:.1f} GiB {'to spare' if report.fits else 'short'})"
    )
    table = Table(show_header=True)
    table.add_column("memory")
    table.add_column("GiB", justify="right")
    table.add_row("weights", f"{report.memory.weights / GIB:.2f}")
    table.add_row("KV cache", f"{report.memory.kv_cache / GIB:.2f}")
    table.add_row("runtime allowance", f"{report.memory.runtime / GIB:.2f}")
    table.add_row("total", f"{report.memory.total / GIB:.2f}")
    console.print(table)
    if report.speed:
        console.print(f"decode estimate: ~{report.speed.tokens_per_second:.0f} tokens/s "
                      f"({report.speed.assumption})")
    if report.suggestions:
        console.print("what would make it fit:")
        for s in report.suggestions:
            console.print(f"  • {s.change}: {s.detail}")
    console.print("assumptions: " + "; ".join(report.assumptions), style="dim")


def cost_report(report: CostReport) -> None:
    table = Table(title=f"{report.model}: cost")
    for column in ("option", "$/M tokens (blended)", "monthly $", "price seen"):
        table.add_column(column)
    for c in report.api:
        table.add_row(f"API: {c.provider}", f"{c.usd_per_million_blended:.3f}",
                      f"{c.monthly_usd:,.2f}" if c.monthly_usd is not None else "",
                      c.price.seen.isoformat())
    if report.hosted:
        h = report.hosted
        table.add_row(f"self-hosted: {h.devices} x {h.hosting.device}",
                      f"{h.usd_per_million_output:.3f} (output)",
                      f"{h.monthly_usd:,.2f}", "")
    console.print(table)
    if not report.api:
        console.print("no API price for this model in the catalog")
    console.print("assumptions: " + "; ".join(report.assumptions), style="dim")


def recommendation(rec: Recommendation, top: int) -> None:
    table = Table(title=f"Recommended for {rec.requirements.use_case}", show_lines=True)
    for column in ("#", "model", "quality", "why", "trade-offs"):
        table.add_column(column, overflow="fold")
    for index, c in enumerate(rec.ranked[:top], 1):
        quality = f"{c.quality:.2f}" if c.quality is not None else "unknown"
        table.add_row(str(index), f"{c.model.id}\n{params(c.model)}", quality,
                      "; ".join(c.reasons), "; ".join(c.tradeoffs))
    console.print(table)
    if rec.excluded:
        console.print(f"excluded ({len(rec.excluded)}):")
        for e in rec.excluded:
            console.print(f"  • {e.model.id}: {'; '.join(e.why)}")
    for note in rec.notes:
        console.print(note, style="dim")
