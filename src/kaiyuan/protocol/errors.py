"""OpenAI-shaped errors: the wire object and the exception that carries it through the layers."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The body OpenAI returns with every 4xx/5xx: `{"error": {...}}`."""

    error: ErrorBody


class APIError(Exception):
    """An error a client caused or must know about, with the HTTP status it maps to.

    Raised anywhere below the server; the server turns it into an `ErrorResponse`.
    """

    status_code: int = 400
    error_type: str = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def to_response(self) -> ErrorResponse:
        return ErrorResponse(
            error=ErrorBody(
                message=self.message, type=self.error_type, param=self.param, code=self.code
            )
        )


class InvalidRequestError(APIError):
    """The request is well-formed JSON but asks for something invalid or impossible."""


class ContextLengthExceededError(InvalidRequestError):
    def __init__(self, message: str, *, param: str | None = "messages"):
        super().__init__(message, param=param, code="context_length_exceeded")


class UnsupportedParameterError(InvalidRequestError):
    def __init__(self, param: str, detail: str = ""):
        message = f"The parameter '{param}' is not supported by this server."
        super().__init__(f"{message} {detail}".strip(), param=param, code="unsupported_parameter")


class AuthenticationError(APIError):
    status_code = 401
    error_type = "invalid_request_error"

    def __init__(self, message: str):
        super().__init__(message, code="invalid_api_key")


class ModelNotFoundError(APIError):
    status_code = 404

    def __init__(self, model: str, available: list[str]):
        listed = ", ".join(available) or "none"
        super().__init__(
            f"The model '{model}' does not exist on this server. Available models: {listed}.",
            param="model",
            code="model_not_found",
        )


class NotFoundError(APIError):
    status_code = 404


class RequestTooLargeError(APIError):
    status_code = 413

    def __init__(self, limit: int):
        super().__init__(
            f"The request body is larger than this server's limit of {limit} bytes. "
            "Send a shorter request, or start the server with a larger --max-body-bytes.",
            code="request_too_large",
        )


class ServerOverloadedError(APIError):
    status_code = 429
    error_type = "rate_limit_exceeded"

    def __init__(self, limit: int):
        super().__init__(
            f"The server's queue is full ({limit} requests waiting). Retry after a short wait, "
            "or start the server with a larger --max-queue.",
            code="queue_full",
        )


class InternalServerError(APIError):
    status_code = 500
    error_type = "server_error"
