"""Usage arithmetic and the event model: events dump to JSON-able data and validate back."""

from __future__ import annotations

import dataclasses
import json
import typing
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from cadenza.types import (
    AnyEvent,
    BudgetWarning,
    FallbackUsed,
    GateChecked,
    LLMCall,
    Message,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunResult,
    RunStarted,
    StepFailed,
    StepFinished,
    StepResult,
    StepStarted,
    Task,
    TextDelta,
    ToolCall,
    ToolCalled,
    Usage,
    event_adapter,
    event_to_dict,
)


def test_usage_add_in_place_and_plus_are_exact() -> None:
    a = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=1, requests=1)
    b = Usage(input_tokens=7, output_tokens=2, cache_read_tokens=0, cache_write_tokens=4, requests=2)
    total = a + b
    assert total == Usage(17, 7, 3, 5, 3)
    assert a == Usage(10, 5, 3, 1, 1), "+ must not change its operands"
    a.add(b)
    assert a == total
    assert total.total_tokens == 24


def test_usage_sums_with_builtin_sum() -> None:
    usages = [Usage(1, 2, 0, 0, 1), Usage(3, 4, 1, 0, 1), Usage(5, 6, 0, 2, 1)]
    assert sum(usages) == Usage(9, 12, 1, 2, 3)
    assert sum(usages[:1]) is not usages[0]
    with pytest.raises(TypeError):
        _ = 5 + usages[0]  # type: ignore[operator]


def test_usage_copy_is_independent() -> None:
    a = Usage(1, 2, 3, 4, 5)
    c = a.copy()
    c.add(Usage(1, 1, 1, 1, 1))
    assert a == Usage(1, 2, 3, 4, 5)
    assert c == Usage(2, 3, 4, 5, 6)


def _sample_events() -> list[object]:
    common = {"run_id": "run-1", "path": "pipeline/0:a", "at": 1700000000.25}
    usage = Usage(12, 34, 5, 0, 1)
    return [
        RunStarted(**common, workflow="flow", input="Compare EV markets"),
        RunFinished(
            **common, output={"answer": ["x", 1]}, usage=usage, cost=Decimal("0.000123456789"), duration=1.5
        ),
        RunFailed(
            **common,
            status="failed",
            error="boom",
            error_type="StepFailedError",
            usage=usage,
            cost=Decimal("0.1"),
            duration=0.1,
        ),
        StepStarted(**common, name="a", kind="agent"),
        StepFinished(**common, name="a", kind="agent", duration=0.2, usage=usage, cost=Decimal("1E-7")),
        StepFailed(**common, name="a", kind="agent", error="x", error_type="ValueError", duration=0.3),
        LLMCall(
            **common,
            model="openai:gpt-4.1-mini",
            usage=usage,
            cost=Decimal("0.0000084"),
            duration=0.01,
            finish_reason="stop",
            tool_calls=2,
        ),
        TextDelta(**common, text="Hel"),
        ToolCalled(**common, tool="add", arguments='{"a": 1}', output=None, error="bad", duration=0.0),
        GateChecked(**common, gate="judge:j", passed=False, feedback="more", attempt=2),
        RetryScheduled(**common, model="openai:x", attempt=1, delay=0.5, reason="429"),
        FallbackUsed(**common, from_model="openai:x", to_model="anthropic:y", reason="down"),
        BudgetWarning(**common, limit="cost", threshold=0.8, used=8.0, maximum=10.0),
    ]


@pytest.mark.parametrize("event", _sample_events(), ids=lambda e: type(e).__name__)
def test_event_round_trips_through_json_and_the_adapter(event: object) -> None:
    data = event_to_dict(event)  # type: ignore[arg-type]
    assert data["type"] == event.type  # type: ignore[attr-defined]
    text = json.dumps(data)  # JSON-able: no Decimal, no dataclass left
    back = event_adapter().validate_json(text)
    assert type(back) is type(event)
    assert back == event
    if "cost" in data:
        assert isinstance(data["cost"], str), "costs are dumped as exact decimal strings"
        assert Decimal(data["cost"]) == event.cost  # type: ignore[attr-defined]


def test_every_event_class_has_a_distinct_type_tag() -> None:
    tags = [e.type for e in _sample_events()]  # type: ignore[attr-defined]
    assert len(tags) == len(set(tags))


def test_event_to_dict_renders_pydantic_and_dataclass_outputs() -> None:
    class Report(BaseModel):
        title: str
        score: float

    @dataclasses.dataclass
    class Point:
        x: int

    event = RunFinished(
        run_id="r",
        path="p",
        at=0.0,
        output={"report": Report(title="t", score=0.5), "point": Point(3)},
        usage=Usage(),
        cost=Decimal(0),
        duration=0.0,
    )
    data = event_to_dict(event)
    assert data["output"] == {"report": {"title": "t", "score": 0.5}, "point": {"x": 3}}
    json.dumps(data)


def test_adapter_rejects_an_event_with_an_unknown_type() -> None:
    data = event_to_dict(_sample_events()[0])  # type: ignore[arg-type]
    data["type"] = "no_such_event"
    with pytest.raises(ValidationError):
        event_adapter().validate_python(data)


def test_task_of_accepts_strings_and_tasks() -> None:
    task = Task("Describe", context={"k": 1}, expected_output="a list")
    assert Task.of(task) is task
    assert Task.of("plain") == Task("plain")


def test_message_to_dict_keeps_only_set_fields() -> None:
    assert Message("user", "hi").to_dict() == {"role": "user", "content": "hi"}
    m = Message("assistant", "", tool_calls=[ToolCall("c1", "add", '{"a":1}')])
    assert m.to_dict()["tool_calls"] == [{"id": "c1", "name": "add", "arguments": '{"a":1}'}]
    err = Message("tool", "Error: x", tool_call_id="c1", name="add", is_error=True).to_dict()
    assert err["is_error"] is True and err["tool_call_id"] == "c1"


def test_run_result_exposes_the_root_steps_confidence_and_messages() -> None:
    messages = [Message("user", "q"), Message("assistant", "a")]
    step = StepResult("a", "a", "out", Usage(), Decimal(0), 0.0, confidence=0.7, messages=messages)
    result = RunResult("r", "succeeded", "out", Usage(), Decimal(0), 0.0, [], step)
    assert result.confidence == 0.7
    assert result.messages == messages
    assert RunResult("r", "failed", None, Usage(), Decimal(0), 0.0, []).messages == []


_SAMPLES: dict[str, object] = {
    "str": "text",
    "float": 1.25,
    "int": 7,
    "bool": True,
    "Usage": Usage(3, 4, 1, 0, 1),
    "Decimal": Decimal("0.000000123"),
    "Any": {"answer": ["x", 2, None]},
}


def _sample_value(annotation: str) -> object:
    """A value for a field annotated ``annotation``; for ``X | None``, a non-None X."""
    first = annotation.split(" | ")[0]
    if first.startswith("list["):
        return [{"role": "user", "content": "hi"}]
    if first.startswith("dict["):
        return {"k": "v"}
    return _SAMPLES[first]


@pytest.mark.parametrize("cls", typing.get_args(AnyEvent), ids=lambda c: c.__name__)
def test_every_event_class_in_the_union_round_trips(cls: type) -> None:
    """Catches an event added later whose fields do not survive JSON and validation."""
    values = {f.name: _sample_value(str(f.type)) for f in dataclasses.fields(cls) if f.name != "type"}
    event = cls(**values)
    back = event_adapter().validate_json(json.dumps(event_to_dict(event)))
    assert back == event
