"""``Agent``: the model <-> tool loop, structured output, usage and cost, tasks and model choice."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import BaseModel, Field

from cadenza import Agent, FunctionModel, Task, tool
from cadenza.errors import ConfigurationError, ModelResponseError, OutputValidationError, UnknownModelError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.offline import LABEL
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.types import FallbackUsed, LLMCall, Message, ToolCall, ToolCalled, Usage


@pytest.fixture(autouse=True)
def _prices() -> Iterator[None]:
    yield
    clear_price_overrides()


class Recorder:
    """A FunctionModel body that replays scripted replies and records every request it got."""

    def __init__(self, *replies: ModelResponse | str) -> None:
        self.replies = list(replies)
        self.requests: list[ModelRequest] = []

    def __call__(self, messages: list[Message], request: ModelRequest) -> ModelResponse | str:
        self.requests.append(
            ModelRequest(list(messages), list(request.tools), request.output_schema, request.max_tokens)
        )
        return self.replies.pop(0)


def call(name: str, arguments: dict[str, object], call_id: str) -> ToolCall:
    return ToolCall(call_id, name, json.dumps(arguments))


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_instructions_become_the_system_message_and_the_task_the_user_message() -> None:
    rec = Recorder("hello")
    agent = Agent("greeter", model=FunctionModel(rec), instructions="You greet people.")
    result = await agent.run("Say hi")
    assert result.output == "hello"
    sent = rec.requests[0].messages
    assert [m.role for m in sent] == ["system", "user"]
    assert sent[0].content == "You greet people."
    assert sent[1].content == "Say hi"
    assert [m.role for m in result.messages] == ["system", "user", "assistant"]
    assert result.step is not None and result.step.messages == result.messages


async def test_no_instructions_means_no_system_message() -> None:
    rec = Recorder("x")
    await Agent("bare", model=FunctionModel(rec)).run("q")
    assert [m.role for m in rec.requests[0].messages] == ["user"]


async def test_task_with_context_and_expected_output() -> None:
    rec = Recorder("done")
    agent = Agent("a", model=FunctionModel(rec))
    task = Task("Summarise the report", context={"region": "Norway"}, expected_output="three bullets")
    await agent.run(task)
    prompt = rec.requests[0].messages[-1].content
    assert prompt.startswith("Summarise the report")
    assert 'Context:\n{\n  "region": "Norway"\n}' in prompt
    assert "Expected output: three bullets" in prompt


async def test_tool_loop_across_several_rounds() -> None:
    rec = Recorder(
        ModelResponse(tool_calls=[call("add", {"a": 1, "b": 2}, "c1")], usage=Usage(10, 2)),
        ModelResponse(tool_calls=[call("add", {"a": 3, "b": 4}, "c2")], usage=Usage(20, 2)),
        ModelResponse(text="3 and 7", usage=Usage(30, 3)),
    )
    result = await Agent("calc", model=FunctionModel(rec), tools=[add]).run("add things")
    assert result.output == "3 and 7"
    assert [r.messages[-1].content for r in rec.requests[1:]] == ["3", "7"]
    assert [r.messages[-1].tool_call_id for r in rec.requests[1:]] == ["c1", "c2"]
    paths = [e.path for e in result.events if isinstance(e, LLMCall | ToolCalled)]
    assert paths == [
        "calc/llm#1",
        "calc/tool#1:add",
        "calc/llm#2",
        "calc/tool#2:add",
        "calc/llm#3",
    ]
    assert all(r.tools and r.tools[0].name == "add" for r in rec.requests)
    assert result.usage == Usage(60, 7, 0, 0, 3)


async def test_concurrent_tool_calls_have_paths_by_order_not_completion() -> None:
    finished: list[str] = []
    slow_spans: list[tuple[float, float]] = []

    @tool
    async def slow(x: int) -> str:
        """Slow."""
        started = time.perf_counter()
        await asyncio.sleep(0.15)
        slow_spans.append((started, time.perf_counter()))
        finished.append("slow")
        return f"slow {x}"

    @tool
    async def fast(x: int) -> str:
        """Fast."""
        await asyncio.sleep(0.01)
        finished.append("fast")
        return f"fast {x}"

    rec = Recorder(
        ModelResponse(
            tool_calls=[call("slow", {"x": 1}, "a"), call("fast", {"x": 2}, "b"), call("slow", {"x": 3}, "c")]
        ),
        "ok",
    )
    result = await Agent("t", model=FunctionModel(rec), tools=[slow, fast]).run("go")
    (_, first_end), (second_start, _) = sorted(slow_spans)
    assert second_start < first_end, "the calls ran concurrently, not one after another"
    assert finished[0] == "fast"
    tool_events = [e for e in result.events if isinstance(e, ToolCalled)]
    assert sorted(e.path for e in tool_events) == ["t/tool#1:slow", "t/tool#2:fast", "t/tool#3:slow"]
    assert tool_events[0].path == "t/tool#2:fast", "events come in completion order, paths by call order"
    tool_messages = rec.requests[1].messages[-3:]
    assert [(m.tool_call_id, m.content) for m in tool_messages] == [
        ("a", "slow 1"),
        ("b", "fast 2"),
        ("c", "slow 3"),
    ]


async def test_max_tool_rounds_last_round_offers_no_tools() -> None:
    def always_tools(messages: list[Message], request: ModelRequest) -> ModelResponse:
        if request.tools:
            return ModelResponse(tool_calls=[call("add", {"a": 1, "b": 1}, f"c{len(messages)}")])
        return ModelResponse(text=f"gave up after {len(messages)} messages")

    seen: list[int] = []

    def model(messages: list[Message], request: ModelRequest) -> ModelResponse:
        seen.append(len(request.tools))
        return always_tools(messages, request)

    result = await Agent("loop", model=FunctionModel(model), tools=[add], max_tool_rounds=2).run("go")
    assert seen == [1, 1, 0]
    assert str(result.output).startswith("gave up")
    assert sum(isinstance(e, ToolCalled) for e in result.events) == 2


async def test_max_tool_rounds_zero_never_offers_tools() -> None:
    rec = Recorder("plain")
    await Agent("z", model=FunctionModel(rec), tools=[add], max_tool_rounds=0).run("q")
    assert rec.requests[0].tools == []


class Report(BaseModel):
    title: str
    points: list[str]
    confidence: float = Field(ge=0, le=1)


async def test_structured_output_valid_with_confidence() -> None:
    rec = Recorder('```json\n{"title": "EV", "points": ["a"], "confidence": 0.8}\n```')
    result = await Agent("w", model=FunctionModel(rec), output_type=Report, instructions="Write.").run("q")
    assert result.output == Report(title="EV", points=["a"], confidence=0.8)
    assert result.confidence == 0.8
    request = rec.requests[0]
    assert request.output_schema is not None and request.output_schema.name == "Report"
    assert request.output_schema.json_schema["properties"]["points"]["type"] == "array"
    assert request.messages[0].content.startswith("Write.")
    assert "Report schema" in request.messages[0].content


@pytest.mark.parametrize("fence", ["```json\n{}\n```", "```JSON\n{}\n```", "```\n{}\n```", "  {}  "])
async def test_structured_output_inside_any_code_fence(fence: str) -> None:
    body = '{"title": "EV", "points": [], "confidence": 0.1}'
    rec = Recorder(fence.replace("{}", body))
    result = await Agent("w", model=FunctionModel(rec), output_type=Report).run("q")
    assert result.output.title == "EV"
    assert len(rec.requests) == 1, "no repair round was needed"


async def test_structured_output_invalid_then_repaired() -> None:
    rec = Recorder('{"title": "EV", "confidence": 3}', '{"title": "EV", "points": [], "confidence": 0.5}')
    result = await Agent("w", model=FunctionModel(rec), output_type=Report).run("q")
    assert result.output.confidence == 0.5
    assert len(rec.requests) == 2
    repair = rec.requests[1].messages[-1]
    assert repair.role == "user"
    assert "did not match the required schema" in repair.content
    assert "points: Field required" in repair.content
    assert "confidence" in repair.content
    assert rec.requests[1].output_schema is not None
    assert sum(isinstance(e, LLMCall) for e in result.events) == 2


async def test_structured_output_invalid_twice_is_an_output_validation_error() -> None:
    rec = Recorder("not json at all", '{"title": 1}')
    agent = Agent("writer", model=FunctionModel(rec), output_type=Report)
    with pytest.raises(OutputValidationError) as info:
        await agent.run("q")
    err = info.value
    assert err.agent == "writer" and err.output_type == "Report"
    assert "writer" in str(err) and "Report" in str(err)
    assert err.raw == '{"title": 1}'


async def test_structured_output_of_a_plain_type() -> None:
    rec = Recorder("[1, 2, 3]")
    result = await Agent("n", model=FunctionModel(rec), output_type=list[int]).run("q")
    assert result.output == [1, 2, 3]
    assert result.confidence is None


async def test_offline_model_fills_a_schema_validly() -> None:
    result = await Agent("o", model="offline", output_type=Report).run("Write about EVs")
    assert isinstance(result.output, Report)
    assert 0 <= result.output.confidence <= 1


async def test_usage_and_cost_are_summed_exactly() -> None:
    set_price("function:priced", input_per_mtok="0.3", output_per_mtok="1.7")
    rec = Recorder(
        ModelResponse(tool_calls=[call("add", {"a": 1, "b": 2}, "c1")], usage=Usage(1001, 7)),
        ModelResponse(text="3", usage=Usage(2003, 11)),
    )
    result = await Agent("p", model=FunctionModel(rec, name="priced"), tools=[add]).run("q")
    expected = (Decimal(3004) * Decimal("0.3") + Decimal(18) * Decimal("1.7")) / Decimal(1_000_000)
    assert result.cost == expected
    assert isinstance(result.cost, Decimal)
    calls = [e for e in result.events if isinstance(e, LLMCall)]
    assert sum((e.cost for e in calls), Decimal(0)) == result.cost
    assert result.usage == Usage(3004, 18, 0, 0, 2)
    assert result.duration > 0


async def test_model_strings_and_model_objects() -> None:
    assert Agent("a").model.name == "offline"
    assert Agent("a", model="offline").model.name == "offline"
    fm = FunctionModel(lambda m, r: "x", name="mine")
    assert Agent("a", model=fm).model is fm

    class MyModel:
        """A user's own provider: just a name and an async complete."""

        name = "mine:v1"

        async def complete(self, request: ModelRequest) -> ModelResponse:
            return ModelResponse(text="from my model", usage=Usage(1, 1))

    result = await Agent("a", model=MyModel()).run("q")
    assert result.output == "from my model"
    assert [e.model for e in result.events if isinstance(e, LLMCall)] == ["mine:v1"]


async def test_offline_model_answer_is_labelled() -> None:
    result = await Agent("a", instructions="You research.").run("Tell me about Norway")
    assert str(result.output).startswith(LABEL)


@pytest.mark.parametrize("model", ["nope:gpt", "gpt-4o", "openai:"])
def test_unknown_provider_is_an_unknown_model_error(model: str) -> None:
    with pytest.raises(UnknownModelError) as info:
        Agent("a", model=model)
    assert info.value.model == model
    assert model in str(info.value) and "openai" in str(info.value)


def test_bad_agent_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="model must be"):
        Agent("a", model=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="empty"):
        Agent("a", model=[])
    with pytest.raises(ConfigurationError, match="name"):
        Agent("")
    with pytest.raises(ConfigurationError, match="max_tool_rounds"):
        Agent("a", max_tool_rounds=-1)
    with pytest.raises(ConfigurationError, match="two tools are named 'add'"):
        Agent("a", tools=[add, add])


async def test_fallback_to_the_next_model_when_one_fails() -> None:
    def broken(messages: list[Message], request: ModelRequest) -> str:
        raise ValueError("no good")

    rec = Recorder("from backup")
    agent = Agent("f", model=[FunctionModel(broken, name="broken"), FunctionModel(rec, name="backup")])
    result = await agent.run("q")
    assert result.output == "from backup"
    fallbacks = [e for e in result.events if isinstance(e, FallbackUsed)]
    assert [(e.from_model, e.to_model, e.path) for e in fallbacks] == [
        ("function:broken", "function:backup", "f/llm#1")
    ]
    assert "ValueError: no good" in fallbacks[0].reason


async def test_async_function_model_and_text_reply_get_estimated_usage() -> None:
    async def reply(messages: list[Message], request: ModelRequest) -> str:
        await asyncio.sleep(0)
        return "four chars x"

    result = await Agent("a", model=FunctionModel(reply)).run("abcd")
    assert result.output == "four chars x"
    assert result.usage.requests == 1
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


class _NoSchema:
    """Pydantic has no schema for this."""


def test_output_type_without_a_schema_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        Agent("reporter", output_type=_NoSchema)
    assert "'reporter'" in str(info.value) and "_NoSchema" in str(info.value)


async def test_function_model_returning_something_else_is_a_clear_model_error() -> None:
    agent = Agent("a", model=FunctionModel(lambda messages, request: None, name="forgetful"))
    with pytest.raises(ModelResponseError) as info:
        await agent.run("q")
    assert info.value.model == "function:forgetful"
    assert "returned NoneType" in str(info.value)
