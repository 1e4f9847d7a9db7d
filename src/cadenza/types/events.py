"""The typed events every step emits on its run's one stream.

Events are slotted dataclasses built without validation on the hot path; ``event_to_dict`` turns
one into JSON-able data when a sink needs bytes, and ``event_adapter()`` gives the pydantic
``TypeAdapter`` for the whole union (JSON Schema, validation of events read back from storage).
Every event names its run and its deterministic step path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from cadenza.types.usage import Usage

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@dataclass(slots=True, kw_only=True)
class Event:
    """What every event has: the run, the step path, and the wall-clock time it happened."""

    run_id: str
    path: str
    at: float


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    type: Literal["run_started"] = "run_started"
    workflow: str
    input: str


@dataclass(slots=True, kw_only=True)
class RunFinished(Event):
    type: Literal["run_finished"] = "run_finished"
    output: Any
    usage: Usage
    cost: Decimal
    duration: float


@dataclass(slots=True, kw_only=True)
class RunFailed(Event):
    """The run ended without an output; ``status`` is failed, cancelled or budget_exceeded."""

    type: Literal["run_failed"] = "run_failed"
    status: str
    error: str
    error_type: str
    usage: Usage
    cost: Decimal
    duration: float


@dataclass(slots=True, kw_only=True)
class StepStarted(Event):
    type: Literal["step_started"] = "step_started"
    name: str
    kind: str


@dataclass(slots=True, kw_only=True)
class StepFinished(Event):
    type: Literal["step_finished"] = "step_finished"
    name: str
    kind: str
    duration: float
    usage: Usage
    cost: Decimal
    confidence: float | None = None


@dataclass(slots=True, kw_only=True)
class StepFailed(Event):
    type: Literal["step_failed"] = "step_failed"
    name: str
    kind: str
    error: str
    error_type: str
    duration: float


@dataclass(slots=True, kw_only=True)
class LLMCall(Event):
    """One completed model call, with the usage the provider reported and its price."""

    type: Literal["llm_call"] = "llm_call"
    model: str
    usage: Usage
    cost: Decimal
    duration: float
    finish_reason: str
    tool_calls: int
    response_model: str = ""
    max_tokens: int | None = None
    #: The request's messages and the answer, only when content capture is on (off by default).
    input_messages: list[dict[str, Any]] | None = None
    output_text: str | None = None


@dataclass(slots=True, kw_only=True)
class TextDelta(Event):
    """A piece of model text as it streams in (only when the run is being streamed)."""

    type: Literal["text_delta"] = "text_delta"
    text: str


@dataclass(slots=True, kw_only=True)
class ToolCalled(Event):
    """One finished tool call; ``error`` is set when it went back to the model as a tool error."""

    type: Literal["tool_call"] = "tool_call"
    tool: str
    arguments: str
    output: str | None
    error: str | None
    duration: float


@dataclass(slots=True, kw_only=True)
class GateChecked(Event):
    type: Literal["gate_checked"] = "gate_checked"
    gate: str
    passed: bool
    feedback: str
    attempt: int


@dataclass(slots=True, kw_only=True)
class RetryScheduled(Event):
    """A model call failed in a way that may pass on retry; the engine waits ``delay`` seconds."""

    type: Literal["retry"] = "retry"
    model: str
    attempt: int
    delay: float
    reason: str


@dataclass(slots=True, kw_only=True)
class FallbackUsed(Event):
    """A model failed for good and the next model in the agent's fallback list takes over."""

    type: Literal["fallback"] = "fallback"
    from_model: str
    to_model: str
    reason: str


@dataclass(slots=True, kw_only=True)
class BudgetWarning(Event):
    """A budget limit passed one of its alert thresholds."""

    type: Literal["budget_warning"] = "budget_warning"
    limit: str
    threshold: float
    used: float
    maximum: float
    scope: str = "run"


AnyEvent = (
    RunStarted
    | RunFinished
    | RunFailed
    | StepStarted
    | StepFinished
    | StepFailed
    | LLMCall
    | TextDelta
    | ToolCalled
    | GateChecked
    | RetryScheduled
    | FallbackUsed
    | BudgetWarning
)


def jsonable(value: Any) -> Any:
    """JSON-able data of any event field or output: Decimals as exact strings, models dumped."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Usage):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return str(value)


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-able data of an event, ``type`` included; costs as decimal strings (exact)."""
    return {f.name: jsonable(getattr(event, f.name)) for f in dataclasses.fields(event)}


@cache
def event_adapter() -> TypeAdapter[AnyEvent]:
    """The pydantic adapter for the event union (built on first use: pydantic is slow to import)."""
    from pydantic import TypeAdapter

    return TypeAdapter(AnyEvent)
