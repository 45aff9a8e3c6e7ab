"""`kaiyuan serve`: the OpenAI-compatible server on a local model."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from kaiyuan.backends.local import LocalBackend
from kaiyuan.engine.embedded import DEFAULT_MODEL, ModelUnavailableError, resolve_model
from kaiyuan.engine.scheduler import EngineConfig
from kaiyuan.server.app import create_app
from kaiyuan.server.settings import ServerSettings

console = Console(stderr=True)


def api_keys(given: list[str] | None) -> tuple[str, ...]:
    """Keys from `--api-key` options, else from `KAIYUAN_API_KEY` (comma-separated)."""
    if given:
        return tuple(given)
    env = os.environ.get("KAIYUAN_API_KEY", "")
    return tuple(key.strip() for key in env.split(",") if key.strip())


def load_backend(model: str, config: EngineConfig) -> LocalBackend:
    """The model behind `--model`, or a clear message and exit code 1."""
    try:
        source = resolve_model(model)
        return LocalBackend(source, config)
    except (ModelUnavailableError, ValueError, RuntimeError) as exc:
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
    max_body_bytes: Annotated[int, typer.Option(min=1024)] = 4 * 1024 * 1024,
    max_stop: Annotated[int, typer.Option(min=0, help="Stop strings per request.")] = 4,
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
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    backend = load_backend(model, config)
    settings = ServerSettings(
        api_keys=api_keys(api_key), max_body_bytes=max_body_bytes, max_stop=max_stop
    )
    app = create_app([backend], settings)
    console.print(
        f"kaiyuan: serving [bold]{backend.model_id}[/bold] ({backend.model.path}) at "
        f"http://{host}:{port}/v1 · {parallel} parallel sequences x {ctx_size} tokens"
        + (" · API key required" if settings.api_keys else "")
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        backend.close()
