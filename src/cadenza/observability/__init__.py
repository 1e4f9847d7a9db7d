"""Observability: the run's event stream turned into traces, metrics, logs, alerts and reports.

Nothing here is imported at ``import cadenza`` beyond this light package and ``_capture``; the
OpenTelemetry API, prometheus-client and the store are imported by the modules that use them.
"""

from __future__ import annotations

__all__ = ["capture_content"]


def capture_content(enabled: bool = True) -> None:
    """Turn recording of message content in traces on or off (off by default: prompts and
    answers may hold personal data). ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``
    turns it on too."""
    from cadenza.observability import _capture

    _capture.enabled = enabled

