"""Spans from events: names, GenAI attributes and parent/child structure of a nested workflow."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as semconv
from opentelemetry.trace import SpanKind, StatusCode

from cadenza import Agent, Budget, FunctionModel, Parallel, Pipeline, Supervisor, tool
from cadenza.errors import BudgetExceeded
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.observability import capture_content, tracing
from cadenza.types.events import LLMCall
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"facts about {topic}"


def _scripted(messages: list[Message], request: ModelRequest) -> ModelResponse:
    usage = Usage(input_tokens=10 + len(messages), output_tokens=5, requests=1)
    if request.output_schema is not None and request.output_schema.name == "Plan":
        plan = {"subtasks": [{"id": "s1", "description": "write it", "specialist": "writer"}], "done": False}
        return ModelResponse(text=json.dumps(plan), usage=usage, model="scripted-2025")
    if request.tools and messages[-1].role != "tool":
        return ModelResponse(
            tool_calls=[ToolCall("c1", "lookup", '{"topic": "otters"}')], usage=usage, model="scripted-2025"
        )
    return ModelResponse(text="an answer", usage=usage, model="scripted-2025")


def _model() -> FunctionModel:
    return FunctionModel(_scripted, name="scripted")


def _flow() -> Pipeline:
    research = Agent("research", model=_model(), tools=[lookup])
    fan = Parallel([Agent("left", model=_model()), Agent("right", model=_model())], name="fan", merge="list")
    boss = Supervisor(
        Agent("boss", model=_model()), [Agent("writer", model=_model())], max_turns=1, name="team"
    )
    return Pipeline([research, fan, boss], name="flow")


def _by_name(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    named: dict[str, ReadableSpan] = {}
    for span in spans:
        assert span.name not in named or span.name.startswith("chat"), f"duplicate span {span.name}"
        named.setdefault(span.name, span)
    return named


def _parent(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next(s for s in spans if s.context.span_id == span.parent.span_id)


async def test_nested_workflow_spans_have_names_attributes_and_parents(spans: InMemorySpanExporter) -> None:
    result = await _flow().run("Tell me about otters")
    finished = spans.get_finished_spans()
    named = _by_name(finished)
    for name in (
        "invoke_workflow flow",
        "pipeline flow",
        "invoke_agent research",
        "execute_tool lookup",
        "parallel fan",
        "invoke_agent left",
        "invoke_agent right",
        "supervisor team",
        "plan",
        "invoke_agent writer",
        "invoke_agent boss",
        "chat scripted",
    ):
        assert name in named, f"no span {name!r} in {sorted(named)}"
    assert len({s.context.trace_id for s in finished}) == 1

    def parent_name(name: str) -> str | None:
        parent = _parent(named[name], finished)
        return parent.name if parent else None

    assert parent_name("invoke_workflow flow") is None
    assert parent_name("pipeline flow") == "invoke_workflow flow"
    assert parent_name("invoke_agent research") == "pipeline flow"
    assert parent_name("execute_tool lookup") == "invoke_agent research"
    assert parent_name("parallel fan") == "pipeline flow"
    assert parent_name("invoke_agent left") == "parallel fan"
    assert parent_name("invoke_agent right") == "parallel fan"
    assert parent_name("supervisor team") == "pipeline flow"
    assert parent_name("plan") == "supervisor team"
    assert parent_name("invoke_agent writer") == "supervisor team"  # the subtask's specialist

    chats = [s for s in finished if s.name == "chat scripted"]
    llm_calls = [e for e in result.events if isinstance(e, LLMCall)]
    assert len(chats) == len(llm_calls) == 7  # research x2, left, right, plan, writer, synthesis
    chat_parents = sorted(_parent(s, finished).name for s in chats)  # type: ignore[union-attr]
    assert chat_parents == sorted(
        ["invoke_agent research"] * 2
        + ["invoke_agent left", "invoke_agent right", "plan", "invoke_agent writer", "invoke_agent boss"]
    )
    chat = chats[0]
    assert chat.kind is SpanKind.CLIENT
    attributes = dict(chat.attributes or {})
    assert attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[semconv.GEN_AI_PROVIDER_NAME] == "function"
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == "scripted"
    assert attributes[semconv.GEN_AI_RESPONSE_MODEL] == "scripted-2025"
    assert attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert semconv.GEN_AI_INPUT_MESSAGES not in attributes  # content capture is off by default
    total_in = sum(int((s.attributes or {})[semconv.GEN_AI_USAGE_INPUT_TOKENS]) for s in chats)  # type: ignore[arg-type]
    total_out = sum(int((s.attributes or {})[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) for s in chats)  # type: ignore[arg-type]
    assert (total_in, total_out) == (result.usage.input_tokens, result.usage.output_tokens)

    workflow = dict(named["invoke_workflow flow"].attributes or {})
    assert workflow[semconv.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert workflow[semconv.GEN_AI_WORKFLOW_NAME] == "flow"
    assert workflow["cadenza.run.id"] == result.run_id
    assert workflow[semconv.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.input_tokens
    agent = dict(named["invoke_agent research"].attributes or {})
    assert agent[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert agent[semconv.GEN_AI_AGENT_NAME] == "research"
    assert agent["cadenza.step.path"] == "flow/0:research"
    tool_span = dict(named["execute_tool lookup"].attributes or {})
    assert tool_span[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert tool_span[semconv.GEN_AI_TOOL_NAME] == "lookup"
    assert semconv.GEN_AI_TOOL_CALL_RESULT not in tool_span
    # Children start after and end before their parents (times come from the events).
    for span in finished:
        parent = _parent(span, finished)
        if parent is not None:
            assert parent.start_time <= span.start_time <= span.end_time <= parent.end_time, span.name  # type: ignore[operator]


async def test_content_is_captured_only_when_turned_on(spans: InMemorySpanExporter) -> None:
    capture_content(True)
    await Agent("research", model=_model(), tools=[lookup]).run("Tell me about otters")
    finished = spans.get_finished_spans()
    first_chat = min((s for s in finished if s.name == "chat scripted"), key=lambda s: s.start_time or 0)
    inputs = json.loads(str((first_chat.attributes or {})[semconv.GEN_AI_INPUT_MESSAGES]))
    assert inputs[-1] == {"role": "user", "parts": [{"type": "text", "content": "Tell me about otters"}]}
    last_chat = max((s for s in finished if s.name == "chat scripted"), key=lambda s: s.start_time or 0)
    outputs = json.loads(str((last_chat.attributes or {})[semconv.GEN_AI_OUTPUT_MESSAGES]))
    assert outputs[0]["parts"] == [{"type": "text", "content": "an answer"}]
    tool_span = next(s for s in finished if s.name == "execute_tool lookup")
    assert (tool_span.attributes or {})[semconv.GEN_AI_TOOL_CALL_RESULT] == "facts about otters"


async def test_a_stopped_run_ends_its_spans_with_an_error_status(spans: InMemorySpanExporter) -> None:
    flow = Pipeline([Agent("a", model=_model()), Agent("b", model=_model())], name="flow")
    with pytest.raises(BudgetExceeded):
        await flow.run("Go", budget=Budget(max_model_calls=1, alert_at=(0.5,)))
    finished = spans.get_finished_spans()
    named = _by_name(finished)
    run_span = named["invoke_workflow flow"]
    assert run_span.status.status_code is StatusCode.ERROR
    assert (run_span.attributes or {})["cadenza.run.status"] == "budget_exceeded"
    assert (run_span.attributes or {})["error.type"] == "BudgetExceeded"
    assert [e.name for e in run_span.events] == ["cadenza.budget_warning"]
    assert named["invoke_agent b"].status.status_code is StatusCode.ERROR
    assert all(s.end_time is not None for s in finished)


async def test_semconv_names_match_the_opentelemetry_package() -> None:
    assert tracing.INPUT_TOKENS == semconv.GEN_AI_USAGE_INPUT_TOKENS
    assert tracing.CACHE_READ_TOKENS == semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
    assert tracing.CACHE_WRITE_TOKENS == semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
    assert tracing.PROVIDER == semconv.GEN_AI_PROVIDER_NAME
    assert tracing.WORKFLOW_NAME == semconv.GEN_AI_WORKFLOW_NAME
    assert tracing.TOOL_RESULT == semconv.GEN_AI_TOOL_CALL_RESULT
    assert tracing.OUTPUT_MESSAGES == semconv.GEN_AI_OUTPUT_MESSAGES


def test_without_a_tracer_provider_runs_do_not_even_import_opentelemetry() -> None:
    code = (
        "import asyncio, sys\n"
        "from cadenza import Agent\n"
        "asyncio.run(Agent('a').run('hi'))\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_failing_tracing_sink_never_breaks_the_run(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from cadenza.types.events import StepStarted

    def broken(sink: tracing.TracingSink, event: StepStarted) -> None:
        raise KeyError("boom")

    monkeypatch.setitem(tracing._HANDLERS, StepStarted, broken)
    result = await _flow().run("Tell me about otters")
    assert result.status == "succeeded"
    warnings = [r for r in caplog.records if r.name == "cadenza.observability"]
    assert len(warnings) == 1 and "tracing sink failed on a StepStarted event" in warnings[0].getMessage()


async def test_a_streamed_call_records_its_time_to_first_chunk(spans: InMemorySpanExporter) -> None:
    events = [event async for event in Agent("streamer").stream("Tell me about otters")]
    assert any(type(e).__name__ == "TextDelta" for e in events)
    chat = next(s for s in spans.get_finished_spans() if s.name == "chat offline")
    attributes = dict(chat.attributes or {})
    assert attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert (
        0
        <= float(attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
        <= (chat.end_time - chat.start_time) / 1e9
    )  # type: ignore[arg-type, operator]
