"""`kaiyuan`: the command's entry point; each sub-command lives in its own module."""

from __future__ import annotations

import typer

from kaiyuan.cli import chat, evals, models, serve

app = typer.Typer(
    help="Run open-weight LLMs behind an OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.add_typer(models.app, name="models")
app.add_typer(evals.app, name="eval")

if __name__ == "__main__":
    app()
