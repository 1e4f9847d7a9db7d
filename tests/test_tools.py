"""``@tool``: schemas from hints and docstrings, validation, and failures that go back to the model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from cadenza import Agent, FunctionModel, tool
from cadenza.errors import ToolDefinitionError, ToolError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.tools.base import Tool
from cadenza.types import Message, ToolCall, ToolCalled, Usage


def scripted_tool_call(name: str, arguments: str, seen: list[list[Message]]) -> FunctionModel:
    """A model that asks for one tool call, then answers with the text of the tool message it saw."""

    def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
        seen.append(list(messages))
        if messages[-1].role != "tool":
            return ModelResponse(tool_calls=[ToolCall("c1", name, arguments)], usage=Usage(1, 1))
        return ModelResponse(text=f"saw: {messages[-1].content}", usage=Usage(1, 1))

    return FunctionModel(reply, name="scripted")


async def run_with_tool(t: Any, name: str, arguments: str) -> tuple[Message, list[ToolCalled], str]:
    """Run an agent whose model calls ``name`` with ``arguments``; the tool message, events, output."""
    seen: list[list[Message]] = []
    agent = Agent("worker", model=scripted_tool_call(name, arguments, seen), tools=[t])
    result = await agent.run("go")
    tool_message = seen[1][-1]
    events = [e for e in result.events if isinstance(e, ToolCalled)]
    return tool_message, events, str(result.output)


# --- schema ---------------------------------------------------------------------------------


def test_schema_from_hints_and_google_docstring() -> None:
    @tool
    def search(query: str, limit: int = 5, mode: Literal["fast", "deep"] = "fast") -> list[str]:
        """Search the web for pages.

        Returns the best pages first.

        Args:
            query: What to look for.
            limit: How many results at most.
            mode: Search depth.
        """
        return []

    assert search.name == "search"
    assert search.description.startswith("Search the web for pages.")
    assert "best pages first" in search.description
    params = search.parameters
    assert params["type"] == "object"
    assert params["required"] == ["query"]
    query = {"type": "string", "title": "Query", "description": "What to look for."}
    assert params["properties"]["query"] == query
    assert params["properties"]["limit"]["type"] == "integer"
    assert params["properties"]["limit"]["default"] == 5
    assert params["properties"]["limit"]["description"] == "How many results at most."
    assert params["properties"]["mode"]["enum"] == ["fast", "deep"]
    assert params["additionalProperties"] is False
    assert search.definition.parameters is params


class Point(BaseModel):
    x: float
    y: float


def test_schema_from_rest_docstring_and_nested_model() -> None:
    @tool
    def distance(a: Point, b: Point) -> float:
        """Distance between two points.

        :param a: The first point.
        :param b: The second point.
        """
        return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)

    props = distance.parameters["properties"]
    assert props["a"]["description"] == "The first point."
    assert props["b"]["description"] == "The second point."
    assert "Point" in distance.parameters["$defs"]
    assert distance.description == "Distance between two points."


def test_options_name_description_timeout_and_output_cap() -> None:
    @tool(name="adder", description="Adds.", timeout=1.5, max_output_chars=10, idempotent=False)
    def add(a: int, b: int) -> int:
        return a + b

    assert (add.name, add.description, add.timeout, add.max_output_chars, add.idempotent) == (
        "adder",
        "Adds.",
        1.5,
        10,
        False,
    )
    assert isinstance(add, Tool)


def test_direct_call_runs_the_plain_function_unvalidated() -> None:
    calls: list[Any] = []

    @tool
    def echo(value: int) -> Any:
        """Echo."""
        calls.append(value)
        return value

    assert echo(3) == 3
    assert echo("not an int") == "not an int"  # type: ignore[arg-type]  # no validation on a direct call
    assert calls == [3, "not an int"]
    assert echo.__name__ == "echo" and echo.__doc__ == "Echo."


async def test_direct_call_of_async_tool_returns_its_coroutine() -> None:
    @tool
    async def slow_double(n: int) -> int:
        """Double."""
        await asyncio.sleep(0)
        return n * 2

    assert await slow_double(4) == 8


@pytest.mark.parametrize(
    ("make", "parameter"),
    [
        (lambda: lambda x: x, "x"),
        (lambda: _star_args, "args"),
        (lambda: _star_kwargs, "options"),
    ],
    ids=["no-hint", "star-args", "star-kwargs"],
)
def test_signature_without_a_schema_is_a_definition_error(make: Callable[[], Any], parameter: str) -> None:
    fn = make()
    with pytest.raises(ToolDefinitionError) as info:
        Tool(fn, name="broken")
    assert info.value.tool == "broken"
    assert parameter in str(info.value)
    assert "broken" in str(info.value)


def _star_args(*args: int) -> int:
    return sum(args)


def _star_kwargs(a: int, **options: int) -> int:
    return a


class _Opaque:
    """A class pydantic has no schema for."""


def test_unsupported_type_is_a_definition_error_naming_the_parameter() -> None:
    def uses_opaque(thing: _Opaque) -> str:
        return "x"

    with pytest.raises(ToolDefinitionError) as info:
        tool(uses_opaque)
    assert info.value.tool == "uses_opaque"
    assert "thing" in str(info.value)


def test_type_with_no_json_schema_is_a_definition_error() -> None:
    def with_callback(callback: Callable[[int], int]) -> int:
        return callback(1)

    with pytest.raises(ToolDefinitionError) as info:
        tool(with_callback)
    assert info.value.tool == "with_callback"
    assert "callback" in str(info.value)


def test_hints_naming_local_types_resolve() -> None:
    class Local(BaseModel):  # with ``from __future__ import annotations`` the hint is a string
        size: int

    @tool
    def measure(item: Local) -> int:
        """Measure."""
        return item.size

    assert measure.parameters["properties"]["item"]["$ref"].endswith("Local")

    def options(item: Local) -> int:
        return item.size

    assert tool(name="opt")(options).name == "opt"


def test_unresolvable_hint_is_a_definition_error() -> None:
    def bad(x: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
        return 1

    with pytest.raises(ToolDefinitionError) as info:
        tool(bad)
    assert "bad" in str(info.value)


# --- invoke ---------------------------------------------------------------------------------


async def test_invoke_validates_and_coerces_arguments() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    assert await add.invoke({"a": "40"}) == "42"
    with pytest.raises(ToolError) as info:
        await add.invoke({"a": "forty"})
    assert info.value.tool == "add"
    assert "a:" in info.value.detail and "invalid arguments" in info.value.detail
    with pytest.raises(ToolError, match="c"):
        await add.invoke({"a": 1, "c": 3})  # extra arguments are refused
    with pytest.raises(ToolError, match="a"):
        await add.invoke({})


async def test_parameter_names_that_clash_with_pydantic_still_work() -> None:
    @tool
    def clash(model_config: int, json: str, schema: str = "s", _private: int = 0) -> str:
        """Names pydantic reserves or shadows."""
        return f"{model_config} {json} {schema} {_private}"

    props = clash.parameters["properties"]
    assert list(props) == ["model_config", "json", "schema", "_private"]
    assert clash.parameters["required"] == ["model_config", "json"]
    assert await clash.invoke({"model_config": 1, "json": "j", "_private": 5}) == "1 j s 5"
    with pytest.raises(ToolError, match="arg0"):
        await clash.invoke({"model_config": 1, "json": "j", "arg0": 2})  # internal names are not arguments


async def test_sync_tools_run_off_the_event_loop() -> None:
    ticks: list[float] = []
    finished: list[float] = []

    @tool
    def blocking(seconds: float) -> str:
        """Block."""
        time.sleep(seconds)
        finished.append(time.perf_counter())
        return "done"

    async def ticker() -> None:
        for _ in range(5):
            await asyncio.sleep(0.01)
            ticks.append(time.perf_counter())

    out, _ = await asyncio.gather(blocking.invoke({"seconds": 0.3}), ticker())
    assert out == "done"
    assert ticks[-1] < finished[0], "the loop kept ticking while the tool slept in its thread"


class Out(BaseModel):
    n: int


async def test_render_structured_results_as_json() -> None:
    @tool
    def model_out() -> Out:
        """M."""
        return Out(n=1)

    @tool
    def dict_out() -> dict[str, Any]:
        """D."""
        return {"a": [1, 2], "b": None}

    assert json.loads(await model_out.invoke({})) == {"n": 1}
    assert json.loads(await dict_out.invoke({})) == {"a": [1, 2], "b": None}


async def test_timeout_async_and_sync() -> None:
    @tool(timeout=0.05)
    async def sleepy() -> str:
        """Sleep."""
        await asyncio.sleep(5)
        return "late"

    @tool(timeout=0.05)
    def sleepy_sync() -> str:
        """Sleep."""
        time.sleep(0.3)
        return "late"

    started = time.perf_counter()
    with pytest.raises(ToolError, match=r"timed out after 0\.05 s"):
        await sleepy.invoke({})
    with pytest.raises(ToolError, match="timed out"):
        await sleepy_sync.invoke({})
    assert time.perf_counter() - started < 1.0


async def test_max_output_truncation() -> None:
    @tool(max_output_chars=10)
    def long_text() -> str:
        """Long."""
        return "x" * 25

    out = await long_text.invoke({})
    assert out.startswith("x" * 10)
    assert "x" * 11 not in out
    assert "[output truncated: 15 more characters]" in out


# --- through an agent: failures go back to the model and the run goes on ----------------------


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


async def test_argument_validation_error_goes_back_to_the_model() -> None:
    message, events, output = await run_with_tool(divide, "divide", '{"a": 1}')
    assert message.role == "tool" and message.is_error and message.name == "divide"
    assert message.tool_call_id == "c1"
    assert message.content.startswith("Error: invalid arguments")
    assert "b: Field required" in message.content
    assert events[0].error is not None and events[0].output is None
    assert output.startswith("saw: Error: invalid arguments")


async def test_tool_exception_goes_back_to_the_model() -> None:
    message, events, _ = await run_with_tool(divide, "divide", '{"a": 1, "b": 0}')
    assert message.is_error
    assert message.content == "Error: ZeroDivisionError: float division by zero"
    assert events[0].error == "ZeroDivisionError: float division by zero"


async def test_successful_tool_output_reaches_the_model() -> None:
    message, events, output = await run_with_tool(divide, "divide", '{"a": 9, "b": 3}')
    assert not message.is_error and message.content == "3.0"
    assert events[0].output == "3.0" and events[0].error is None
    assert events[0].path == "worker/tool#1:divide"
    assert output == "saw: 3.0"


async def test_malformed_json_arguments_go_back_to_the_model() -> None:
    message, events, _ = await run_with_tool(divide, "divide", '{"a": 1, "b": ')
    assert message.is_error
    assert "not valid JSON" in message.content
    assert events[0].arguments == '{"a": 1, "b": '


async def test_non_object_json_arguments_go_back_to_the_model() -> None:
    message, _, _ = await run_with_tool(divide, "divide", "[1, 2]")
    assert message.is_error and "must be a JSON object" in message.content


async def test_unknown_tool_name_goes_back_to_the_model() -> None:
    message, events, _ = await run_with_tool(divide, "multiply", '{"a": 1}')
    assert message.is_error
    assert "no such tool" in message.content and "divide" in message.content
    assert events[0].tool == "multiply"
    assert events[0].path == "worker/tool#1:multiply"


async def test_tool_timeout_goes_back_to_the_model() -> None:
    @tool(timeout=0.05)
    async def hang() -> str:
        """Hang."""
        await asyncio.sleep(10)
        return "never"

    message, _, _ = await run_with_tool(hang, "hang", "{}")
    assert message.is_error and "timed out after 0.05 s" in message.content


async def test_oversized_output_reaches_the_model_truncated() -> None:
    @tool(max_output_chars=5)
    def big() -> str:
        """Big."""
        return "abcdefghij"

    message, _, _ = await run_with_tool(big, "big", "{}")
    assert not message.is_error
    assert message.content == "abcde\n[output truncated: 5 more characters]"
