"""Structured logs: run events as log records carrying ``run_id`` and ``step_path``, and a JSON
formatter that writes one object per line for log shippers.

``configure_logging(json=True)`` installs the formatter on the ``cadenza`` logger;
``enable_event_logs()`` logs every event of runs started afterwards on ``cadenza.events``
(run ends at INFO, failures, retries, fallbacks, failed gates and budget alerts at WARNING,
steps and calls at DEBUG). Records from anywhere else that pass ``extra={"run_id": ...,
"step_path": ...}`` (the budget tracker does) get the same fields. ``CADENZA_LOG_FORMAT=json``
and ``CADENZA_LOG_LEVEL`` configure the same from the environment (``configure_from_env``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO, Any

from cadenza.types.events import (
    BudgetWarning,
    Event,
    FallbackUsed,
    GateChecked,
    LLMCall,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCalled,
    event_to_dict,
)

EVENTS_LOGGER = "cadenza.events"
MAX_FIELD_CHARS = 2_000

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, run_id, step_path, extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = _clip(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[:MAX_FIELD_CHARS] + f"... ({len(value)} chars)"
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v) for v in value]
    return value


def configure_logging(
    *, json: bool = True, level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send the ``cadenza`` loggers to ``stream`` (stderr), as JSON lines or plain text.

    Replaces a handler this function installed before, so calling it twice is harmless.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler._cadenza = True  # type: ignore[attr-defined]
    root = logging.getLogger("cadenza")
    for old in [h for h in root.handlers if getattr(h, "_cadenza", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def configure_from_env() -> logging.Handler | None:
    """``configure_logging`` from ``CADENZA_LOG_FORMAT`` (json|text) and ``CADENZA_LOG_LEVEL``."""
    fmt = os.environ.get("CADENZA_LOG_FORMAT", "").strip().lower()
    if not fmt:
        return None
    handler = configure_logging(json=fmt == "json", level=os.environ.get("CADENZA_LOG_LEVEL", "INFO"))
    enable_event_logs()
    return handler


class EventLogSink:
    """Logs one run's events on ``cadenza.events`` with run id, step path and the event's fields."""

    __slots__ = ("_log",)

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(EVENTS_LOGGER)

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            return
        level, message = _describe(event)
        if not self._log.isEnabledFor(level):
            return
        fields = event_to_dict(event)
        fields.pop("run_id", None)
        fields.pop("path", None)
        event_type = fields.pop("type", type(event).__name__)
        self._log.log(
            level,
            message,
            extra={"run_id": event.run_id, "step_path": event.path, "event": event_type, "data": fields},
        )


def _describe(event: Event) -> tuple[int, str]:
    """The level and one-line message of an event."""
    if isinstance(event, RunStarted):
        return logging.INFO, f"run started: {event.workflow}"
    if isinstance(event, RunFinished):
        return logging.INFO, f"run succeeded in {event.duration:.3f} s, ${event.cost}"
    if isinstance(event, RunFailed):
        return logging.WARNING, f"run {event.status}: {event.error}"
    if isinstance(event, StepStarted):
        return logging.DEBUG, f"{event.kind} {event.name} started"
    if isinstance(event, StepFinished):
        return logging.DEBUG, f"{event.kind} {event.name} finished in {event.duration:.3f} s"
    if isinstance(event, StepFailed):
        return logging.WARNING, f"{event.kind} {event.name} failed: {event.error}"
    if isinstance(event, LLMCall):
        usage = event.usage
        return logging.DEBUG, f"model {event.model}: {usage.input_tokens} in, {usage.output_tokens} out"
    if isinstance(event, ToolCalled):
        if event.error is not None:
            return logging.WARNING, f"tool {event.tool} error: {event.error}"
        return logging.DEBUG, f"tool {event.tool} ok"
    if isinstance(event, RetryScheduled):
        return logging.WARNING, f"retrying {event.model} in {event.delay:.2f} s: {event.reason}"
    if isinstance(event, FallbackUsed):
        return logging.WARNING, f"falling back from {event.from_model} to {event.to_model}: {event.reason}"
    if isinstance(event, GateChecked):
        if event.passed:
            return logging.DEBUG, f"gate {event.gate} passed"
        return logging.WARNING, f"gate {event.gate} failed (attempt {event.attempt}): {event.feedback}"
    if isinstance(event, BudgetWarning):
        return (
            logging.WARNING,
            f"budget {event.limit} at {event.threshold:.0%}: {event.used:g} of {event.maximum:g}",
        )
    return logging.DEBUG, getattr(event, "type", type(event).__name__)


def _event_log_factory(run_id: str, workflow: str) -> EventLogSink | None:
    return EventLogSink() if logging.getLogger(EVENTS_LOGGER).isEnabledFor(logging.WARNING) else None


def enable_event_logs() -> None:
    """Log the events of every run started from now on (see the module docstring for levels)."""
    from cadenza.observability.sinks import register_observer

    register_observer(_event_log_factory)


def disable_event_logs() -> None:
    from cadenza.observability.sinks import unregister_observer

    unregister_observer(_event_log_factory)
