"""Every failure leaves the server as an OpenAI-shaped error object with a 4xx/5xx status."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kaiyuan.protocol.errors import APIError, ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

_UNION_MEMBERS = {"system", "developer", "user", "assistant", "tool", "str", "int", "float",
                  "bool", "none"}
_TYPE_TAG = re.compile(r"[\[\-]")


def error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.to_response().model_dump(), status_code=error.status_code)


def _plain(status: int, message: str, error_type: str, code: str | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(message=message, type=error_type, code=code))
    return JSONResponse(body.model_dump(), status_code=status)


def _describe(error: dict) -> tuple[str, str | None]:
    """A readable message and OpenAI's dotted `param` from one pydantic error."""
    # pydantic puts union members into the location ("messages.0.user.content.str");
    # a client wants only the path through its own JSON.
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    loc = [part for part in loc if part not in _UNION_MEMBERS and not _TYPE_TAG.search(part)]
    param = ".".join(loc) or None
    if error.get("type") == "json_invalid":
        return f"The request body is not valid JSON: {error.get('ctx', {}).get('error', '')}", None
    if error.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        ctx = error.get("ctx", {})
        tag = str(ctx.get("discriminator", "")).strip("'")
        param = f"{param}.{tag}" if param else tag
        return f"'{param}' must be one of {ctx.get('expected_tags', '')}.", param
    if error.get("type") == "missing":
        return f"'{param}' is required.", param
    return f"Invalid value for '{param}': {error.get('msg')}.", param


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception type the stack can raise onto an OpenAI error object."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message, param = _describe(errors[0]) if errors else ("Invalid request.", None)
        if len(errors) > 1:
            message += f" ({len(errors) - 1} more problem(s) in the request.)"
        body = ErrorResponse(
            error=ErrorBody(message=message, type="invalid_request_error", param=param,
                            code="invalid_value")
        )
        return JSONResponse(body.model_dump(), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _plain(404, "No such route. See /v1/models, /v1/chat/completions, "
                          "/v1/completions, /health and /metrics.", "invalid_request_error",
                          "not_found")
        if exc.status_code == 405:
            return _plain(405, f"Method not allowed here: {exc.detail}", "invalid_request_error",
                          "method_not_allowed")
        return _plain(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _plain(500, f"Internal server error: {type(exc).__name__}", "server_error")
