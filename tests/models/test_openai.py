"""OpenAIModel end to end: the official SDK talks real HTTP to the fake server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import genai_prices
import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply, llm_server
from tests.models.helpers import FAST, City, agent, of_type, openai_model, word_count

from cadenza import Agent
from cadenza.errors import MissingCredentialsError, ModelResponseError
from cadenza.models import ModelRequest
from cadenza.models._clients import pooled_count
from cadenza.models.openai import OpenAIModel
from cadenza.types.events import LLMCall, TextDelta, ToolCalled
from cadenza.types.messages import Message

__all__ = ["llm_server"]


async def test_model_string_uses_the_sdk_environment_variables(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    llm_server.push("openai", Reply(text="Paris is the capital."))

    result = await Agent("geo", model="openai:gpt-4.1-mini", instructions="Answer briefly.").run("Capital?")

    assert result.output == "Paris is the capital."
    [request] = llm_server.requests("openai")
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-from-env"
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital?"},
    ]
    [call] = of_type(result.events, LLMCall)
    assert call.model == "openai:gpt-4.1-mini"


async def test_tool_call_round_trip_runs_the_real_tool(llm_server: FakeLLMServer) -> None:
    llm_server.push(
        "openai",
        Reply(tool_calls=[{"id": "call_7", "name": "word_count", "arguments": {"text": "one two three"}}]),
        Reply(text="There are 3 words."),
    )

    result = await agent(openai_model(llm_server), tools=[word_count]).run("Count: one two three")

    assert result.output == "There are 3 words."
    [called] = of_type(result.events, ToolCalled)
    assert (called.tool, called.output, called.error) == ("word_count", "3", None)
    first, second = llm_server.requests("openai")
    assert first.body["tools"][0]["function"]["name"] == "word_count"
    assert first.body["tools"][0]["function"]["parameters"]["properties"]["text"]["type"] == "string"
    assert second.body["messages"][-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "word_count", "arguments": '{"text": "one two three"}'},
            }
        ],
    }
    assert second.body["messages"][-1] == {"role": "tool", "tool_call_id": "call_7", "content": "3"}


async def test_structured_output_sends_a_json_schema_and_validates(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(text='{"name": "Oslo", "population": 709000}'))

    result = await agent(openai_model(llm_server), output_type=City).run("Largest city of Norway?")

    assert result.output == City(name="Oslo", population=709000)
    [request] = llm_server.requests("openai")
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"
    assert response_format["json_schema"]["strict"] is False
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"name", "population"}


async def test_invalid_structured_output_gets_one_repair_request(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(text='{"name": "Oslo"}'), Reply(text='{"name": "Oslo", "population": 1}'))

    result = await agent(openai_model(llm_server), output_type=City).run("City?")

    assert result.output == City(name="Oslo", population=1)
    repair = llm_server.requests("openai")[1].body["messages"][-1]
    assert repair["role"] == "user" and "population" in repair["content"]


async def test_stream_yields_text_deltas_and_the_final_output(llm_server: FakeLLMServer) -> None:
    text = "Streaming works piece by piece over server-sent events."
    llm_server.push("openai", Reply(text=text, usage={"prompt_tokens": 21, "completion_tokens": 9}))

    events = [e async for e in agent(openai_model(llm_server)).stream("Say something")]

    deltas = of_type(events, TextDelta)
    assert len(deltas) > 1
    assert "".join(d.text for d in deltas) == text
    assert events[-1].output == text  # type: ignore[attr-defined]
    [call] = of_type(events, LLMCall)
    assert (call.usage.input_tokens, call.usage.output_tokens) == (21, 9)
    [request] = llm_server.requests("openai")
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


async def test_streamed_tool_call_deltas_are_accumulated(llm_server: FakeLLMServer) -> None:
    arguments = {"text": "a rather long text so that the arguments arrive in many small pieces"}
    llm_server.push(
        "openai",
        Reply(
            text="Let me count.",
            tool_calls=[{"id": "call_1", "name": "word_count", "arguments": arguments}],
        ),
        Reply(text="13 words."),
    )

    events = [e async for e in agent(openai_model(llm_server), tools=[word_count]).stream("Count")]

    [called] = of_type(events, ToolCalled)
    assert json.loads(called.arguments) == arguments
    assert called.output == "13"
    assert events[-1].output == "13 words."  # type: ignore[attr-defined]
    second = llm_server.requests("openai")[1].body["messages"]
    assert second[-2]["content"] == "Let me count."
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "13"}


async def test_usage_and_cost_are_exactly_what_the_provider_reported(llm_server: FakeLLMServer) -> None:
    wire_usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 345,
        "prompt_tokens_details": {"cached_tokens": 1024},
    }
    llm_server.push("openai", Reply(text="Done.", usage=wire_usage))

    result = await agent(openai_model(llm_server)).run("Work")

    assert (result.usage.input_tokens, result.usage.output_tokens) == (1200, 345)
    assert result.usage.cache_read_tokens == 1024
    assert result.usage.requests == 1
    expected = genai_prices.extract_usage(
        {"model": "gpt-4.1-mini", "usage": wire_usage}, provider_id="openai", api_flavor="chat"
    ).calc_price()
    assert result.cost == expected.total_price
    assert result.cost > 0


async def test_max_tokens_and_temperature_are_sent(llm_server: FakeLLMServer) -> None:
    await agent(openai_model(llm_server), max_tokens=77, temperature=0.25).run("Hi")

    body = llm_server.requests("openai")[0].body
    assert body["max_completion_tokens"] == 77
    assert body["temperature"] == 0.25


async def test_ollama_needs_no_key_and_takes_its_base_url_from_the_environment(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", llm_server.openai_url)

    result = await Agent("local", model="ollama:llama3.2", max_tokens=50, retry=FAST).run("Hello there")

    assert result.output == "Fake answer to: Hello there"
    [request] = llm_server.requests("openai")
    assert request.body["model"] == "llama3.2"
    assert request.body["max_tokens"] == 50  # compatible servers get the classic parameter
    [call] = of_type(result.events, LLMCall)
    assert call.model == "ollama:llama3.2"


async def test_azure_uses_deployments_path_api_version_and_api_key_header(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", llm_server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    llm_server.push("openai", Reply(text="From Azure."))

    result = await Agent("az", model="azure:my-gpt4o", retry=FAST).run("Hi")

    assert result.output == "From Azure."
    [request] = llm_server.requests("openai")
    assert request.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert request.headers["api-key"] == "azure-key"


async def test_missing_key_is_reported_on_first_call_not_at_construction() -> None:
    model = OpenAIModel("gpt-4.1-mini")  # building it needs no key
    worker = Agent("w", model=model, retry=FAST)

    with pytest.raises(MissingCredentialsError) as caught:
        await worker.run("Hi")

    assert caught.value.env_var == "OPENAI_API_KEY"
    assert "OPENAI_API_KEY" in str(caught.value)
    assert caught.value.model == "openai:gpt-4.1-mini"


async def test_missing_azure_key_names_the_azure_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(MissingCredentialsError, match="AZURE_OPENAI_API_KEY"):
        await OpenAIModel("dep", provider="azure").complete(ModelRequest([Message("user", "hi")]))


async def test_one_pooled_client_per_configuration(llm_server: FakeLLMServer) -> None:
    first, second = openai_model(llm_server), openai_model(llm_server, name="gpt-4.1")
    other_key = OpenAIModel("gpt-4.1-mini", base_url=llm_server.openai_url, api_key="another")
    request = ModelRequest([Message("user", "hi")])

    for _ in range(3):
        await first.complete(request)
        await second.complete(request)
    assert first._client() is second._client()
    assert pooled_count() == 1

    await other_key.complete(request)
    assert other_key._client() is not first._client()
    assert pooled_count() == 2


def test_import_cadenza_does_not_import_provider_sdks() -> None:
    code = (
        "import sys, cadenza\n"
        "from cadenza.models import infer_model\n"
        "infer_model('openai:gpt-4.1-mini'); infer_model('anthropic:claude-sonnet-4-6')\n"
        "loaded = [m for m in ('openai', 'anthropic', 'httpx', 'httpx2') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_refusal_is_a_clear_model_response_error(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(refusal="I can't help with that."))

    with pytest.raises(ModelResponseError, match="refused: I can't help with that") as caught:
        await agent(openai_model(llm_server), output_type=City).run("Something bad")

    assert caught.value.retryable is False
    assert len(llm_server.requests("openai")) == 1


def test_clients_are_pooled_per_event_loop(llm_server: FakeLLMServer) -> None:
    """A client's connections belong to the loop that opened them: a new loop gets a new client."""
    model = openai_model(llm_server)
    request = ModelRequest([Message("user", "hi")])

    async def call_twice() -> int:
        await model.complete(request)
        await model.complete(request)
        return pooled_count()

    first_count = asyncio.run(call_twice())
    second_count = asyncio.run(call_twice())  # would fail on a closed loop's pool

    assert (first_count, second_count) == (1, 1)
    assert len(llm_server.requests("openai")) == 4


def test_the_first_call_imports_the_sdk_off_the_event_loop(tmp_path: object) -> None:
    """While the SDK imports (0.5-3 s), the loop keeps running other work."""
    code = (
        "import asyncio, time\n"
        "from cadenza.models.openai import OpenAIModel\n"
        "from cadenza.models import ModelRequest\n"
        "async def main():\n"
        "    ticks = []\n"
        "    async def ticker():\n"
        "        while True:\n"
        "            ticks.append(time.perf_counter()); await asyncio.sleep(0.005)\n"
        "    task = asyncio.create_task(ticker()); await asyncio.sleep(0.02)\n"
        "    model = OpenAIModel('m', base_url='http://127.0.0.1:9/v1', api_key='k', timeout=0.5)\n"
        "    try:\n"
        "        await model.complete(ModelRequest([]))\n"
        "    except Exception:\n"
        "        pass\n"
        "    task.cancel()\n"
        "    gaps = [b - a for a, b in zip(ticks, ticks[1:])]\n"
        "    assert max(gaps) < 0.25, max(gaps)\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
