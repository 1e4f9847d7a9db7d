"""Every error the service answers with has one shape, and every bad input is a 4xx.

``{"error": {"type": ..., "message": ..., "details": [...]}}``: ``type`` is a stable machine word,
``details`` point at the offending place (a body field, a workflow file line and column). Errors
raised by the library (``CadenzaError`` subclasses) are mapped to their HTTP status here, once.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

log = logging.getLogger("cadenza.api")


class ErrorDetail(BaseModel):
    """One problem: where (``loc`` in the body or query, or a workflow file line/column) and what."""

    loc: list[str | int] = Field(default_factory=list)
    message: str
    type: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None
    value: str | None = None
    expected: str | None = None


class ErrorBody(BaseModel):
    type: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorBody


class ApiError(Exception):
    """An error the API answers with ``status``; handlers render it as an ``ErrorResponse``."""

    status = 400
    type = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message
        self.details = details or []
        self.headers = headers
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return error_body(self.type, self.message, self.details)


class Unauthorized(ApiError):
    status = 401
    type = "unauthorized"

    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="cadenza"'})


class Forbidden(ApiError):
    status = 403
    type = "forbidden"


class NotFound(ApiError):
    status = 404
    type = "not_found"


class Conflict(ApiError):
    status = 409
    type = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    type = "payload_too_large"


class TooManyRequests(ApiError):
    status = 429
    type = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(f"rate limit exceeded; retry in {seconds} s", headers={"Retry-After": str(seconds)})


class ServiceUnavailable(ApiError):
    status = 503
    type = "unavailable"


def error_body(type_: str, message: str, details: list[ErrorDetail] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "type": type_,
            "message": message,
            "details": [d.model_dump(exclude_none=True) for d in details or ()],
        }
    }


_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad header).",
    401: "Missing, invalid or expired credentials.",
    403: "The caller's role does not allow this.",
    404: "No such object, or it belongs to another owner.",
    409: "The object's state does not allow this.",
    413: "The request body is larger than the limit.",
    415: "Unsupported content type.",
    422: "The request is well-formed but invalid; details point at each problem.",
    429: "Rate limit exceeded; see Retry-After.",
    503: "The database is unreachable.",
    504: "The request took longer than the server's timeout.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for these error codes, all with the ``ErrorResponse`` schema."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}
