"""OpenTelemetry spans from a run's events, on the global tracer provider.

The convention for instrumented libraries: Cadenza uses only ``opentelemetry-api`` and the
global provider, so an application that sets up its own provider (or runs under
``opentelemetry-instrument``) gets Cadenza's spans with no code; ``setup_tracing()`` is a small
helper for applications that have none. When no provider is set, runs carry no tracing sink at
all (zero overhead).

Spans follow the GenAI semantic conventions (development status; the latest experimental names,
as ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` describes — without that opt-in
the deprecated ``gen_ai.system`` is emitted too, for backends that still key on it):

- ``invoke_workflow {workflow}`` per run,
- ``invoke_agent {agent}`` per agent step, ``plan`` per supervisor planning turn,
- ``{kind} {name}`` per pattern step (``pipeline research``, ``parallel fan-out``, ...),
- ``chat {model}`` per model call (CLIENT), ``execute_tool {tool}`` per tool call,

nested by step path: a span's parent is the span of the nearest ancestor path. Spans are built
from events (one event stream feeds everything), so start times come from the events: a step's
``StepStarted``, a model or tool call's finish time minus its duration. Message content is
recorded only when content capture is on (``cadenza.observability.capture_content()`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cadenza.errors import ConfigurationError
from cadenza.observability import _capture
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
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

TRACER_NAME = "cadenza"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
DISABLE_ENV = "CADENZA_TRACING"
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"

# GenAI semantic-convention names (kept here: the semconv package is not a runtime dependency).
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM_DEPRECATED = "gen_ai.system"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_STREAM = "gen_ai.request.stream"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
AGENT_NAME = "gen_ai.agent.name"
WORKFLOW_NAME = "gen_ai.workflow.name"
CONVERSATION_ID = "gen_ai.conversation.id"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"

# Providers whose semconv name differs from Cadenza's model-string prefix.
_PROVIDER_NAMES = {"azure": "azure.ai.openai", "mistral": "mistral_ai", "xai": "x_ai"}

_tracer: Tracer | None = None


def tracing_active() -> bool:
    """Whether runs should be traced: the OTel API is loaded and a real provider is set.

    Checked once per run. When nobody imported ``opentelemetry.trace``, no provider can have
    been set, and the check costs one dictionary lookup.
    """
    if "opentelemetry.trace" not in sys.modules and not os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
        return False
    if os.environ.get(DISABLE_ENV, "").strip().lower() in {"0", "false", "off", "no"}:
        return False
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _get_tracer() -> Tracer:
    global _tracer
    from opentelemetry import trace

    if _tracer is None:
        from cadenza import __version__

        # A ProxyTracer: follows the global provider even if it is set after this call.
        _tracer = trace.get_tracer(TRACER_NAME, __version__, schema_url=SCHEMA_URL)
    return _tracer


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def provider_name(model: str) -> str:
    """The ``gen_ai.provider.name`` of a ``provider:name`` model string."""
    prefix = model.partition(":")[0]
    return _PROVIDER_NAMES.get(prefix, prefix)


def _legacy_names() -> bool:
    return "gen_ai_latest_experimental" not in os.environ.get(OPT_IN_ENV, "")


class TracingSink:
    """Turns one run's events into spans. Made per run; holds only the spans still open."""

    __slots__ = ("_first_chunk", "_legacy", "_open", "_run_span", "_tracer")

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._tracer = tracer or _get_tracer()
        self._open: dict[str, Span] = {}
        # Streamed model calls: when their first text arrived (time to first chunk).
        self._first_chunk: dict[str, float] = {}
        self._run_span: Span | None = None
        self._legacy = _legacy_names()

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            try:
                handler(self, event)
            except Exception as exc:  # observing must never break the run
                from cadenza.observability.sinks import sink_failed

                sink_failed("tracing", event, exc)

    # -- structure -------------------------------------------------------------------------------

    def _parent_of(self, path: str) -> Span | None:
        """The open span of the nearest ancestor of ``path`` (the run's span at the top)."""
        while path:
            path = path.rpartition("/")[0]
            span = self._open.get(path)
            if span is not None:
                return span
        return self._run_span

    def _start(
        self,
        name: str,
        parent: Span | None,
        start: float,
        attributes: dict[str, Any],
        kind: Any = None,
    ) -> Span:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(
            name,
            context=context,
            kind=kind if kind is not None else trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(start),
        )

    # -- run -------------------------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        attributes = {
            OPERATION: "invoke_workflow",
            WORKFLOW_NAME: event.workflow,
            CONVERSATION_ID: event.run_id,
            "cadenza.run.id": event.run_id,
        }
        if _capture.enabled:
            attributes["cadenza.run.input"] = event.input
        # No explicit parent: the caller's current span (an HTTP request, a job) is the parent.
        self._run_span = self._start(f"invoke_workflow {event.workflow}", None, event.at, attributes)

    def _run_finished(self, event: RunFinished) -> None:
        span = self._run_span
        if span is None:
            return
        _set_totals(span, event.usage, event.cost)
        span.set_attribute("cadenza.run.status", "succeeded")
        span.end(end_time=_ns(event.at))
        self._close()

    def _run_failed(self, event: RunFailed) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self._run_span
        if span is None:
            return
        _set_totals(span, event.usage, event.cost)
        span.set_attribute("cadenza.run.status", event.status)
        span.set_attribute(ERROR_TYPE, event.error_type)
        span.set_status(Status(StatusCode.ERROR, event.error))
        span.end(end_time=_ns(event.at))
        self._close()

    def _close(self) -> None:
        """End whatever a failed run left open (cancelled branches), so nothing leaks."""
        for span in self._open.values():
            span.end()
        self._open.clear()
        self._run_span = None

    # -- steps -----------------------------------------------------------------------------------

    def _step_started(self, event: StepStarted) -> None:
        last = event.path.rpartition("/")[2]
        attributes: dict[str, Any] = {
            "cadenza.step.path": event.path,
            "cadenza.step.kind": event.kind,
            "cadenza.step.name": event.name,
        }
        if last.startswith("plan#"):
            name = "plan"
            attributes[OPERATION] = "invoke_agent"
            attributes[AGENT_NAME] = event.name
            attributes["cadenza.step.kind"] = "plan"
        elif event.kind == "agent":
            name = f"invoke_agent {event.name}"
            attributes[OPERATION] = "invoke_agent"
            attributes[AGENT_NAME] = event.name
        else:
            name = f"{event.kind} {event.name}"
        parent = self._parent_of(event.path)
        self._open[event.path] = self._start(name, parent, event.at, attributes)

    def _step_finished(self, event: StepFinished) -> None:
        span = self._open.pop(event.path, None)
        if span is None:
            return
        _set_totals(span, event.usage, event.cost)
        span.end(end_time=_ns(event.at))

    def _step_failed(self, event: StepFailed) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self._open.pop(event.path, None)
        if span is None:
            return
        span.set_attribute(ERROR_TYPE, event.error_type)
        span.set_status(Status(StatusCode.ERROR, event.error))
        span.end(end_time=_ns(event.at))

    # -- model and tool calls --------------------------------------------------------------------

    def _llm_call(self, event: LLMCall) -> None:
        from opentelemetry.trace import SpanKind

        request_model = event.model.partition(":")[2] or event.model
        provider = provider_name(event.model)
        usage = event.usage
        attributes: dict[str, Any] = {
            OPERATION: "chat",
            PROVIDER: provider,
            REQUEST_MODEL: request_model,
            RESPONSE_MODEL: event.response_model or request_model,
            INPUT_TOKENS: usage.input_tokens,
            OUTPUT_TOKENS: usage.output_tokens,
            FINISH_REASONS: (event.finish_reason,),
            "cadenza.step.path": event.path,
            "cadenza.cost_usd": float(event.cost),
        }
        if usage.cache_read_tokens:
            attributes[CACHE_READ_TOKENS] = usage.cache_read_tokens
        if usage.cache_write_tokens:
            attributes[CACHE_WRITE_TOKENS] = usage.cache_write_tokens
        if event.max_tokens is not None:
            attributes[REQUEST_MAX_TOKENS] = event.max_tokens
        first_chunk = self._first_chunk.pop(event.path, None)
        if first_chunk is not None:
            attributes[REQUEST_STREAM] = True
            attributes[TIME_TO_FIRST_CHUNK] = max(first_chunk - (event.at - event.duration), 0.0)
        if self._legacy:
            attributes[SYSTEM_DEPRECATED] = provider
        if event.input_messages is not None:
            attributes[INPUT_MESSAGES] = json.dumps(_input_messages(event.input_messages), ensure_ascii=False)
        if event.output_text is not None:
            attributes[OUTPUT_MESSAGES] = json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": event.output_text}],
                        "finish_reason": event.finish_reason,
                    }
                ],
                ensure_ascii=False,
            )
        span = self._start(
            f"chat {request_model}",
            self._parent_of(event.path),
            event.at - event.duration,
            attributes,
            SpanKind.CLIENT,
        )
        span.end(end_time=_ns(event.at))

    def _tool_called(self, event: ToolCalled) -> None:
        from opentelemetry.trace import Status, StatusCode

        attributes: dict[str, Any] = {
            OPERATION: "execute_tool",
            TOOL_NAME: event.tool,
            TOOL_TYPE: "function",
            "cadenza.step.path": event.path,
        }
        if _capture.enabled:
            attributes[TOOL_ARGUMENTS] = event.arguments
            if event.output is not None:
                attributes[TOOL_RESULT] = event.output
        span = self._start(
            f"execute_tool {event.tool}", self._parent_of(event.path), event.at - event.duration, attributes
        )
        if event.error is not None:
            span.set_attribute(ERROR_TYPE, "ToolError")
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end(end_time=_ns(event.at))

    def _text_delta(self, event: TextDelta) -> None:
        if event.path not in self._first_chunk:
            self._first_chunk[event.path] = event.at

    # -- point events ----------------------------------------------------------------------------

    def _annotate(self, path: str, name: str, attributes: dict[str, Any], at: float) -> None:
        span = self._open.get(path) or self._parent_of(path)
        if span is not None:
            span.add_event(name, attributes, timestamp=_ns(at))

    def _retry(self, event: RetryScheduled) -> None:
        self._annotate(
            event.path,
            "cadenza.retry",
            {
                "cadenza.model": event.model,
                "cadenza.attempt": event.attempt,
                "cadenza.delay_s": event.delay,
                "cadenza.reason": event.reason,
            },
            event.at,
        )

    def _fallback(self, event: FallbackUsed) -> None:
        self._annotate(
            event.path,
            "cadenza.fallback",
            {
                "cadenza.from_model": event.from_model,
                "cadenza.to_model": event.to_model,
                "cadenza.reason": event.reason,
            },
            event.at,
        )

    def _gate(self, event: GateChecked) -> None:
        self._annotate(
            event.path,
            "cadenza.gate",
            {
                "cadenza.gate": event.gate,
                "cadenza.gate.passed": event.passed,
                "cadenza.gate.attempt": event.attempt,
                "cadenza.gate.feedback": event.feedback,
            },
            event.at,
        )

    def _budget(self, event: BudgetWarning) -> None:
        if self._run_span is not None:
            self._run_span.add_event(
                "cadenza.budget_warning",
                {
                    "cadenza.budget.limit": event.limit,
                    "cadenza.budget.threshold": event.threshold,
                    "cadenza.budget.used": event.used,
                    "cadenza.budget.maximum": event.maximum,
                    "cadenza.budget.scope": event.scope,
                },
                timestamp=_ns(event.at),
            )


def _set_totals(span: Span, usage: Any, cost: Any) -> None:
    # One call: the SDK takes a lock and validates per call, not per attribute.
    span.set_attributes(
        {
            INPUT_TOKENS: usage.input_tokens,
            OUTPUT_TOKENS: usage.output_tokens,
            "cadenza.cost_usd": float(cost),
        }
    )


def _input_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in the GenAI conventions' structure: role and typed parts."""
    converted = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        role = message.get("role", "user")
        if role == "tool":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": message.get("content"),
                }
            )
        elif message.get("content"):
            parts.append({"type": "text", "content": message["content"]})
        for call in message.get("tool_calls", ()):
            parts.append(
                {"type": "tool_call", "id": call["id"], "name": call["name"], "arguments": call["arguments"]}
            )
        converted.append({"role": role, "parts": parts})
    return converted


_HANDLERS: dict[type[Event], Any] = {
    RunStarted: TracingSink._run_started,
    RunFinished: TracingSink._run_finished,
    RunFailed: TracingSink._run_failed,
    StepStarted: TracingSink._step_started,
    StepFinished: TracingSink._step_finished,
    StepFailed: TracingSink._step_failed,
    LLMCall: TracingSink._llm_call,
    ToolCalled: TracingSink._tool_called,
    TextDelta: TracingSink._text_delta,
    RetryScheduled: TracingSink._retry,
    FallbackUsed: TracingSink._fallback,
    GateChecked: TracingSink._gate,
    BudgetWarning: TracingSink._budget,
}


def setup_tracing(
    *,
    service_name: str | None = None,
    exporters: Sequence[str] | None = None,
    capture_content: bool | None = None,
) -> TracerProvider:
    """Install an SDK tracer provider with exporters chosen by the standard OTEL_* variables.

    For applications that have no provider of their own (one that has keeps it: this returns the
    existing provider untouched). ``exporters`` defaults to ``OTEL_TRACES_EXPORTER`` (a comma
    list of ``otlp``, ``console``, ``none``; default ``otlp``). The OTLP exporter is OTLP over
    HTTP/protobuf and reads ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
    and ``OTEL_EXPORTER_OTLP_HEADERS`` itself. Needs ``pip install "cadenza[otel]"``.
    """
    from opentelemetry import trace

    current = trace.get_tracer_provider()
    if capture_content is not None:
        _capture.enabled = capture_content
    if not isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return current
    try:
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise ConfigurationError(
            'setup_tracing needs the OpenTelemetry SDK: pip install "cadenza[otel]"'
        ) from None
    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "cadenza"
    resource = Resource.create({"service.name": name}).merge(OTELResourceDetector().detect())
    provider = SDKTracerProvider(resource=resource)
    chosen = exporters if exporters is not None else _exporters_from_env()
    for exporter in chosen:
        if exporter == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
        elif exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter != "none":
            raise ConfigurationError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {exporter!r}; Cadenza knows otlp, console, none"
            )
    trace.set_tracer_provider(provider)
    return provider


def _exporters_from_env() -> list[str]:
    value = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _otlp_exporter() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    )
    if protocol != "http/protobuf":
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: Cadenza's setup_tracing exports OTLP over "
            "http/protobuf; set up your own tracer provider for other protocols"
        )
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigurationError('the OTLP exporter needs: pip install "cadenza[otel]"') from None
    return OTLPSpanExporter()
