"""`kaiyuan serve`: the OpenAI-compatible server on a local model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from kaiyuan.backends.local import LocalBackend
from kaiyuan.backends.thinking import EffortBudgets
from kaiyuan.engine.embedded import DEFAULT_MODEL, ModelUnavailableError, resolve_model
from kaiyuan.engine.scheduler import EngineConfig
from kaiyuan.families import registry
from kaiyuan.server.app import create_app
from kaiyuan.server.settings import ReasoningFields, ServerSettings

console = Console(stderr=True)


def api_keys(given: list[str] | None) -> tuple[str, ...]:
    """Keys from `--api-key` options, else from `KAIYUAN_API_KEY` (comma-separated)."""
    if given:
        return tuple(given)
    env = os.environ.get("KAIYUAN_API_KEY", "")
    return tuple(key.strip() for key in env.split(",") if key.strip())


def effort_budgets(text: str) -> EffortBudgets:
    """`--effort-budgets LOW,MEDIUM,HIGH` (tokens)."""
    try:
        low, medium, high = (int(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter("give three token counts, e.g. 512,2048,8192") from None
    if min(low, medium, high) < 0:
        raise typer.BadParameter("budgets cannot be negative")
    return EffortBudgets(low, medium, high)


def load_backend(
    model: str,
    config: EngineConfig,
    *,
    family: str | None = None,
    chat_template: Path | None = None,
    budgets: EffortBudgets | None = None,
) -> LocalBackend:
    """The model behind `--model`, or a clear message and exit code 1."""
    try:
        template = chat_template.read_text() if chat_template else None
        if family:
            registry.get(family)  # an unknown name fails here, before the model loads
        source = resolve_model(model)
        return LocalBackend(
            source, config, family=family, chat_template=template, effort_budgets=budgets
        )
    except (ModelUnavailableError, ValueError, RuntimeError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def serve(
    model: Annotated[str, typer.Option(help="Embedded model alias or GGUF path.")] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the server.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    api_key: Annotated[
        list[str] | None,
        typer.Option(help="Require this bearer key (repeatable). Default: $KAIYUAN_API_KEY."),
    ] = None,
    parallel: Annotated[int, typer.Option(min=1, help="Sequences decoded together.")] = 8,
    ctx_size: Annotated[int, typer.Option(min=64, help="Context tokens per sequence.")] = 4096,
    threads: Annotated[int, typer.Option(min=1)] = os.cpu_count() or 1,
    batch_tokens: Annotated[int, typer.Option(min=8, help="Most tokens per decode step.")] = 512,
    prefill_chunk: Annotated[
        int, typer.Option(min=1, help="Prompt tokens per step while others decode.")
    ] = 128,
    max_queue: Annotated[int, typer.Option(min=0, help="Waiting requests before 429.")] = 256,
    prefix_cache: Annotated[
        bool, typer.Option(help="Reuse the KV cache of an earlier prompt with the same start.")
    ] = True,
    max_body_bytes: Annotated[int, typer.Option(min=1024)] = 4 * 1024 * 1024,
    max_stop: Annotated[int, typer.Option(min=0, help="Stop strings per request.")] = 4,
    family: Annotated[
        str | None,
        typer.Option(help="Model family (thinking and tool format); default: detected."),
    ] = None,
    chat_template: Annotated[
        Path | None,
        typer.Option(help="A Jinja chat template file to use instead of the model's own."),
    ] = None,
    effort_budgets_: Annotated[
        str,
        typer.Option(
            "--effort-budgets", help="Thinking tokens for reasoning_effort low,medium,high."
        ),
    ] = "512,2048,8192",
    reasoning_fields: Annotated[
        str,
        typer.Option(help="Thinking in: both, reasoning_content or reasoning."),
    ] = "both",
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Serve a model behind an OpenAI-compatible API (default: the embedded Qwen model)."""
    try:
        config = EngineConfig(
            parallel=parallel,
            ctx_per_seq=ctx_size,
            batch_tokens=batch_tokens,
            prefill_chunk=prefill_chunk,
            threads=threads,
            max_queue=max_queue,
            prefix_cache=prefix_cache,
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if reasoning_fields not in ("both", "reasoning_content", "reasoning"):
        console.print("[red]error:[/red] --reasoning-fields takes both, reasoning_content "
                      "or reasoning")
        raise typer.Exit(2)
    fields: ReasoningFields = reasoning_fields  # type: ignore[assignment]
    backend = load_backend(
        model,
        config,
        family=family,
        chat_template=chat_template,
        budgets=effort_budgets(effort_budgets_),
    )
    settings = ServerSettings(
        api_keys=api_keys(api_key),
        max_body_bytes=max_body_bytes,
        max_stop=max_stop,
        reasoning_fields=fields,
    )
    app = create_app([backend], settings)
    console.print(
        f"kaiyuan: serving [bold]{backend.model_id}[/bold] ({backend.model.path}) at "
        f"http://{host}:{port}/v1 · {backend.family.name} family · "
        f"{parallel} parallel sequences x {ctx_size} tokens"
        + (" · API key required" if settings.api_keys else "")
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        backend.close()
