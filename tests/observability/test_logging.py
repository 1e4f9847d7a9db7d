"""Structured logs: JSON lines carrying run id and step path, from events and from the budget."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cadenza import Agent, Budget, FunctionModel, Pipeline
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.observability.logging import (
    JsonFormatter,
    configure_logging,
    disable_event_logs,
    enable_event_logs,
)
from cadenza.types.messages import Message
from cadenza.types.usage import Usage


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger("cadenza")
    level, propagate = logger.level, logger.propagate
    handler = configure_logging(json=True, level="DEBUG", stream=stream)
    enable_event_logs()
    yield stream
    disable_event_logs()
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def _answer(messages: list[Message], request: ModelRequest) -> ModelResponse:
    return ModelResponse(text="ok", usage=Usage(5, 5))


async def test_every_event_is_one_json_line_with_run_id_and_step_path(log_stream: io.StringIO) -> None:
    flow = Pipeline(
        [Agent("a", model=FunctionModel(_answer)), Agent("b", model=FunctionModel(_answer))], name="flow"
    )
    result = await flow.run("Go", budget=Budget(max_model_calls=2, alert_at=(1.0,)))
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    events = [line for line in lines if line["logger"] == "cadenza.events"]
    assert {line["run_id"] for line in lines} == {result.run_id}
    assert [e["event"] for e in events if e["step_path"] == "flow/0:a"] == ["step_started", "step_finished"]
    llm = next(e for e in events if e["event"] == "llm_call" and e["step_path"] == "flow/1:b/llm#1")
    assert llm["level"] == "debug"
    assert llm["data"]["usage"] == {
        "input_tokens": 5,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "requests": 1,
    }
    assert events[-1]["event"] == "run_finished" and events[-1]["level"] == "info"
    alert = next(line for line in lines if line["logger"] == "cadenza.budget")
    assert alert["level"] == "warning"
    assert alert["step_path"] == "flow/1:b/llm#1"
    assert alert["budget_limit"] == "max_model_calls"
    assert lines[0]["ts"].endswith("Z")


def test_json_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.LogRecord("cadenza.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.run_id = "r1"
    record.step_path = "flow/0:a"
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "boom now"
    assert (data["run_id"], data["step_path"], data["level"]) == ("r1", "flow/0:a", "error")
    assert "ValueError: bad" in data["exception"]


async def test_event_logs_are_off_unless_enabled() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    events_logger = logging.getLogger("cadenza.events")
    events_logger.addHandler(handler)
    try:
        await Agent("a", model=FunctionModel(_answer)).run("Go")
    finally:
        events_logger.removeHandler(handler)
    assert stream.getvalue() == ""
