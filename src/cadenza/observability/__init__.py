"""Observability: the run's event stream turned into traces, metrics, logs, alerts and reports.

This package is light: the OpenTelemetry API, prometheus-client and the store are imported by
the modules that use them, when they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.observability.tracing import TracingSink, setup_tracing

__all__ = ["TracingSink", "capture_content", "setup_tracing"]

_LAZY = {"TracingSink": "tracing", "setup_tracing": "tracing"}


def capture_content(enabled: bool = True) -> None:
    """Turn recording of message content in traces on or off (off by default: prompts and
    answers may hold personal data). ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``
    turns it on too."""
    from cadenza.observability import _capture

    _capture.enabled = enabled


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cadenza.observability' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"cadenza.observability.{module}"), name)
