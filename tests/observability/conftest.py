"""One SDK tracer provider with an in-memory exporter, installed as the global provider once.

The global provider can be set only once per process, so it stays for the session; each test
starts from an empty exporter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.store.conftest import postgres_url, sqlite_url, store, store_url

from cadenza.observability import _capture
from cadenza.observability.tracing import DISABLE_ENV

__all__ = ["postgres_url", "spans", "sqlite_url", "store", "store_url"]

_exporter = InMemorySpanExporter()


def _install() -> None:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if _exporter not in getattr(current, "_cadenza_test_exporters", ()):
            current.add_span_processor(SimpleSpanProcessor(_exporter))
            current._cadenza_test_exporters = (_exporter,)  # type: ignore[attr-defined]
        return
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    provider._cadenza_test_exporters = (_exporter,)  # type: ignore[attr-defined]
    trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The exporter the global provider writes finished spans to, empty at the start.

    Afterwards Cadenza's tracing is switched off for the rest of the session (the provider
    cannot be unset), so other tests run as they would without a provider.
    """
    _install()
    _exporter.clear()
    os.environ.pop(DISABLE_ENV, None)
    captured = _capture.enabled
    yield _exporter
    _capture.enabled = captured
    _exporter.clear()
    os.environ[DISABLE_ENV] = "false"
