"""`kaiyuan models`: what can be served here."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kaiyuan.engine.embedded import EMBEDDED_MODELS, ModelUnavailableError

app = typer.Typer(help="Models available to kaiyuan.", no_args_is_help=True)


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
