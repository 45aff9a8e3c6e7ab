"""Server-wide limits and switches (the HTTP ones; engine limits live in `EngineConfig`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSettings:
    api_keys: tuple[str, ...] = ()
    """Accepted bearer tokens; empty means no authentication."""
    max_body_bytes: int = 4 * 1024 * 1024
    max_stop: int = 4
    """Stop strings allowed per request (OpenAI allows 4)."""
