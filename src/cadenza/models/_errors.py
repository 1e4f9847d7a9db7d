"""Translate provider SDK and HTTP-layer exceptions into ``ModelError``, once, at the boundary.

Both official SDKs share the same exception shapes (``APIStatusError`` with ``status_code`` and
``response``, ``APITimeoutError``, ``APIConnectionError``), so one translator serves both; it is
duck-typed on those shapes so this module imports neither SDK.

Retryable: 408, 409, 429, every 5xx (529 "overloaded" included), timeouts, connection errors and
a body cut off mid-stream. Not retryable: any other 4xx (400, 401, 403, 404, 422 ...): sending
the same request again cannot help, so the engine moves straight to the next fallback model.

A 200 whose body is not valid JSON (or not the documented shape) becomes ``ModelResponseError``
marked retryable: in practice it is a proxy or gateway that cut or mangled the body, and a new
request usually gets a whole one. The retry budget bounds the cost when it does not.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from cadenza.errors import ModelError, ModelResponseError

RETRYABLE_STATUSES = frozenset({408, 409, 429})
_STREAM_RETRYABLE_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "server_error"})
_MAX_DETAIL = 500


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status means the same request may succeed later."""
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def translate_error(exc: Exception, model: str) -> Exception:
    """The ``ModelError`` for an SDK or transport exception; ``exc`` itself if it is neither."""
    if isinstance(exc, json.JSONDecodeError):
        return ModelResponseError(
            f"the response body is not valid JSON ({exc.msg} at {exc.pos})", model=model, retryable=True
        )
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__
    if module.startswith(("openai", "anthropic")):
        return _translate_sdk_error(exc, names, model)
    if module.startswith(("httpx", "httpcore")) and names & {"TransportError", "StreamError"}:
        return ModelError(f"connection failed: {_detail(exc)}", model=model, retryable=True)
    return exc


def _translate_sdk_error(exc: Exception, names: set[str], model: str) -> ModelError:
    if "APITimeoutError" in names:
        return ModelError("the request timed out", model=model, retryable=True)
    if "APIConnectionError" in names:
        cause = exc.__cause__ or exc.__context__
        reason = f": {_detail(cause)}" if cause is not None else ""
        return ModelError(f"connection failed{reason}", model=model, retryable=True)
    if "APIResponseValidationError" in names:
        return ModelResponseError(
            f"the response does not have the documented shape: {_detail(exc)}", model=model, retryable=True
        )
    status = getattr(exc, "status_code", None)
    if "APIStatusError" in names and isinstance(status, int):
        message = _provider_message(exc)
        if status < 400:
            # An error event inside a 200 stream (Anthropic sends ``event: error`` mid-stream).
            kind = _error_type(getattr(exc, "body", None))
            return ModelError(
                f"error in the stream ({kind}): {message}",
                model=model,
                retryable=kind in _STREAM_RETRYABLE_TYPES,
            )
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return ModelError(
            message,
            model=model,
            status=status,
            retryable=is_retryable_status(status),
            retry_after=retry_after_seconds(headers),
        )
    return ModelError(f"{type(exc).__name__}: {_detail(exc)}", model=model)


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return "unknown"


def _provider_message(exc: Exception) -> str:
    """The provider's own error message when the body has one, else the SDK's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            kind = error.get("type")
            prefix = f"{kind}: " if isinstance(kind, str) and kind else ""
            return (prefix + str(error["message"]))[:_MAX_DETAIL]
    return _detail(exc)


def _detail(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:_MAX_DETAIL]
