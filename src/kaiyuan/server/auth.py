"""Optional bearer-token authentication for the API routes."""

from __future__ import annotations

import secrets

from fastapi import Request

from kaiyuan.protocol.errors import AuthenticationError


def require_api_key(request: Request) -> None:
    """FastAPI dependency: accept the request only with one of the configured keys."""
    keys: tuple[str, ...] = request.app.state.settings.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError(
            "Missing API key. Send it as 'Authorization: Bearer <key>' "
            "(the openai client does this with api_key=...)."
        )
    if not any(secrets.compare_digest(token.strip(), key) for key in keys):
        raise AuthenticationError("Incorrect API key provided.")
