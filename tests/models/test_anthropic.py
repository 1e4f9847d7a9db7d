"""AnthropicModel end to end: the official SDK talks real HTTP to the fake server."""

from __future__ import annotations

import json

import genai_prices
import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply, llm_server
from tests.models.helpers import FAST, City, agent, anthropic_model, of_type, word_count

from cadenza import Agent, tool
from cadenza.errors import MissingCredentialsError, ModelError
from cadenza.models import ModelRequest
from cadenza.models.anthropic import AnthropicModel
from cadenza.types.events import LLMCall, RetryScheduled, TextDelta, ToolCalled
from cadenza.types.messages import Message, ToolCall

__all__ = ["llm_server"]


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


async def test_model_string_uses_the_sdk_environment_variables(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    llm_server.push("anthropic", Reply(text="Bonjour."))

    result = await Agent("fr", model="anthropic:claude-sonnet-4-6", instructions="Speak French.").run("Hello")

    assert result.output == "Bonjour."
    [request] = llm_server.requests("anthropic")
    assert request.path == "/v1/messages"
    # The SDK sends the key as x-api-key or as a bearer token, depending on its version.
    assert "sk-ant-env" in (request.headers.get("x-api-key"), request.headers.get("authorization", "")[7:])
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["system"] == "Speak French."  # top-level, not a message
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    assert body["max_tokens"] == 4096  # the API requires it: our default
    [call] = of_type(result.events, LLMCall)
    assert call.model == "anthropic:claude-sonnet-4-6"


async def test_tool_use_round_trip_runs_the_real_tools(llm_server: FakeLLMServer) -> None:
    llm_server.push(
        "anthropic",
        Reply(
            text="Using two tools.",
            tool_calls=[
                {"id": "toolu_a", "name": "word_count", "arguments": {"text": "one two"}},
                {"id": "toolu_b", "name": "shout", "arguments": {"text": "hey"}},
            ],
        ),
        Reply(text="2 words; HEY."),
    )

    result = await agent(anthropic_model(llm_server), tools=[word_count, shout]).run("Do both")

    assert result.output == "2 words; HEY."
    outputs = {c.tool: c.output for c in of_type(result.events, ToolCalled)}
    assert outputs == {"word_count": "2", "shout": "HEY"}
    first, second = llm_server.requests("anthropic")
    assert [t["name"] for t in first.body["tools"]] == ["word_count", "shout"]
    assert first.body["tools"][0]["input_schema"]["properties"]["text"]["type"] == "string"
    assistant, results = second.body["messages"][-2:]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Using two tools."},
            {"type": "tool_use", "id": "toolu_a", "name": "word_count", "input": {"text": "one two"}},
            {"type": "tool_use", "id": "toolu_b", "name": "shout", "input": {"text": "hey"}},
        ],
    }
    # Both results in ONE user turn: the Messages API wants roles to alternate.
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "2"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "HEY"},
        ],
    }


async def test_tool_errors_are_sent_back_marked_as_errors(llm_server: FakeLLMServer) -> None:
    llm_server.push(
        "anthropic",
        Reply(tool_calls=[{"id": "toolu_x", "name": "word_count", "arguments": {"wrong": 1}}]),
        Reply(text="Sorry."),
    )

    await agent(anthropic_model(llm_server), tools=[word_count]).run("Count")

    [result_block] = llm_server.requests("anthropic")[1].body["messages"][-1]["content"]
    assert result_block["type"] == "tool_result" and result_block["is_error"] is True


async def test_structured_output_uses_the_native_json_schema_format(llm_server: FakeLLMServer) -> None:
    llm_server.push("anthropic", Reply(text='{"name": "Bergen", "population": 291000}'))

    result = await agent(anthropic_model(llm_server), output_type=City).run("Second city of Norway?")

    assert result.output == City(name="Bergen", population=291000)
    body = llm_server.requests("anthropic")[0].body
    schema = body["output_config"]["format"]["schema"]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert set(schema["properties"]) == {"name", "population"}
    assert schema["additionalProperties"] is False  # made API-compatible by the SDK's transform


async def test_structured_output_in_instructions_when_native_is_off(llm_server: FakeLLMServer) -> None:
    llm_server.push("anthropic", Reply(text='{"name": "Bergen", "population": 1}'))
    model = anthropic_model(llm_server, native_structured_output=False)

    result = await agent(model, output_type=City).run("City?")

    assert result.output == City(name="Bergen", population=1)
    body = llm_server.requests("anthropic")[0].body
    assert "output_config" not in body
    assert '"population"' in body["system"]


async def test_stream_yields_text_deltas_and_the_final_output(llm_server: FakeLLMServer) -> None:
    text = "Claude streams its answer in text_delta events."
    llm_server.push("anthropic", Reply(text=text, usage={"input_tokens": 30, "output_tokens": 12}))

    events = [e async for e in agent(anthropic_model(llm_server)).stream("Say something")]

    deltas = of_type(events, TextDelta)
    assert len(deltas) > 1
    assert "".join(d.text for d in deltas) == text
    assert events[-1].output == text  # type: ignore[attr-defined]
    [call] = of_type(events, LLMCall)
    assert (call.usage.input_tokens, call.usage.output_tokens) == (30, 12)
    assert llm_server.requests("anthropic")[0].body["stream"] is True


async def test_streamed_tool_input_json_deltas_are_accumulated(llm_server: FakeLLMServer) -> None:
    arguments = {"text": "many words arrive as partial json in several input json delta events"}
    llm_server.push(
        "anthropic",
        Reply(tool_calls=[{"id": "toolu_s", "name": "word_count", "arguments": arguments}]),
        Reply(text="12."),
    )

    events = [e async for e in agent(anthropic_model(llm_server), tools=[word_count]).stream("Count")]

    [called] = of_type(events, ToolCalled)
    assert json.loads(called.arguments) == arguments
    assert called.output == "12"
    assert events[-1].output == "12."  # type: ignore[attr-defined]


@pytest.mark.parametrize("streaming", [False, True])
async def test_usage_sums_cache_tokens_and_cost_matches_the_price_list(
    llm_server: FakeLLMServer, streaming: bool
) -> None:
    wire_usage = {
        "input_tokens": 150,
        "output_tokens": 420,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 600,
    }
    llm_server.push("anthropic", Reply(text="Cached.", usage=wire_usage))
    worker = agent(anthropic_model(llm_server))

    if streaming:
        events = [e async for e in worker.stream("Work")]
        usage, cost = events[-1].usage, events[-1].cost  # type: ignore[attr-defined]
    else:
        result = await worker.run("Work")
        usage, cost = result.usage, result.cost

    assert usage.input_tokens == 150 + 2000 + 600
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (2000, 600)
    assert usage.output_tokens == 420
    expected = genai_prices.extract_usage(
        {"model": "claude-sonnet-4-6", "usage": wire_usage}, provider_id="anthropic"
    ).calc_price()
    assert cost == expected.total_price
    assert cost > 0


async def test_max_tokens_is_sent_and_temperature_is_not(
    llm_server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    await agent(anthropic_model(llm_server), max_tokens=64, temperature=0.5).run("Hi")

    body = llm_server.requests("anthropic")[0].body
    assert body["max_tokens"] == 64
    assert "temperature" not in body  # the Messages API of the installed SDK has none
    assert "temperature" in caplog.text


async def test_malformed_tool_arguments_in_history_are_kept_as_text(llm_server: FakeLLMServer) -> None:
    history = [
        Message("user", "go"),
        Message("assistant", "", tool_calls=[ToolCall("toolu_1", "word_count", "{not json")]),
        Message("tool", "Error: arguments are not valid JSON", tool_call_id="toolu_1", is_error=True),
    ]

    await anthropic_model(llm_server).complete(ModelRequest(history))

    tool_use = llm_server.requests("anthropic")[0].body["messages"][1]["content"][0]
    assert tool_use["input"] == {"_raw_arguments": "{not json"}


async def test_missing_key_is_reported_on_first_call_naming_the_variable() -> None:
    worker = Agent("w", model="anthropic:claude-sonnet-4-6", retry=FAST)  # building it needs no key

    with pytest.raises(MissingCredentialsError) as caught:
        await worker.run("Hi")

    assert caught.value.env_var == "ANTHROPIC_API_KEY"
    assert "ANTHROPIC_API_KEY" in str(caught.value)


def test_name_is_provider_and_model() -> None:
    assert AnthropicModel("claude-3-5-haiku-latest").name == "anthropic:claude-3-5-haiku-latest"


async def test_an_overload_error_event_mid_stream_is_retried(llm_server: FakeLLMServer) -> None:
    llm_server.push(
        "anthropic",
        Reply(text="this answer is cut off by an error event", stream_error="overloaded_error"),
        Reply(text="Complete."),
    )

    events = [e async for e in agent(anthropic_model(llm_server)).stream("Go")]

    assert events[-1].output == "Complete."  # type: ignore[attr-defined]
    [retry] = [e for e in events if isinstance(e, RetryScheduled)]
    assert "overloaded_error" in retry.reason


async def test_an_invalid_request_error_event_mid_stream_is_not_retried(llm_server: FakeLLMServer) -> None:
    llm_server.push("anthropic", Reply(text="cut off by a fatal error", stream_error="invalid_request_error"))

    with pytest.raises(ModelError, match="invalid_request_error") as caught:
        async for _ in agent(anthropic_model(llm_server)).stream("Go"):
            pass

    assert caught.value.retryable is False
    assert len(llm_server.requests("anthropic")) == 1
