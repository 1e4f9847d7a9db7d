"""Exception handlers: library errors, validation errors and HTTP errors become ``ErrorResponse``s."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza.api.errors import ApiError, ErrorDetail, error_body, log
from cadenza.errors import CadenzaError, ConfigurationError
from cadenza.store.errors import (
    DatabaseUnavailableError,
    RunLeasedError,
    RunNotFoundError,
    RunStateError,
    SchemaMismatchError,
    StaleAttemptError,
)
from cadenza.workflows.errors import WorkflowFileError


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(CadenzaError, _cadenza_error)
    app.add_exception_handler(Exception, _unexpected)


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: any text (even a lone surrogate echoed back) can be sent."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return SafeJSONResponse(body, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return json_error(exc.status, exc.body(), exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [validation_detail(error) for error in exc.errors()]
    if any(d.type == "json_invalid" for d in details):
        return json_error(400, error_body("malformed_json", "the request body is not valid JSON", details))
    return json_error(422, error_body("invalid", "the request is invalid", details))


def validation_detail(error: Any) -> ErrorDetail:
    loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
    value = error.get("input")
    shown = None
    if isinstance(value, str | int | float | bool):
        shown = repr(value)[:200]
    return ErrorDetail(
        loc=loc, message=str(error.get("msg", "invalid")), type=str(error.get("type", "invalid")), value=shown
    )


_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else kind.replace("_", " ")
    return json_error(exc.status_code, error_body(kind, message), dict(exc.headers or {}))


async def _cadenza_error(_request: Request, exc: Exception) -> JSONResponse:
    status, kind, details = _classify(exc)
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc)
    return json_error(status, error_body(kind, str(exc), details))


def _classify(exc: Exception) -> tuple[int, str, list[ErrorDetail]]:
    if isinstance(exc, WorkflowFileError):
        return 422, "invalid_workflow", [workflow_detail(p) for p in exc.problems]
    if isinstance(exc, RunNotFoundError):
        return 404, "not_found", []
    if isinstance(exc, RunStateError | RunLeasedError | StaleAttemptError):
        return 409, "conflict", []
    if isinstance(exc, DatabaseUnavailableError | SchemaMismatchError):
        return 503, "unavailable", []
    if isinstance(exc, ConfigurationError):
        return 422, "invalid", []
    return 422, "failed", []


def workflow_detail(problem: Any) -> ErrorDetail:
    """A workflow file problem as a detail: the same file, line, column and message as the CLI."""
    loc: list[str | int] = ["body", "spec"]
    return ErrorDetail(
        loc=loc,
        message=str(problem.message),
        type="workflow",
        file=problem.file,
        line=problem.line,
        column=problem.column,
        key=problem.key or None,
        value=problem.value,
        expected=problem.expected,
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return json_error(500, error_body("internal_error", "internal error; the server log has the details"))
