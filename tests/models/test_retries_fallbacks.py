"""Retries, fallbacks and error mapping, through real HTTP faults injected by the fake server."""

from __future__ import annotations

import email.utils
import time

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply, llm_server
from tests.models.helpers import FAST, agent, anthropic_model, model_for, of_type, openai_model

from cadenza import Agent, RetryPolicy
from cadenza.errors import MissingCredentialsError, ModelError, ModelResponseError, UnknownModelError
from cadenza.models import ModelRequest, ModelResponse
from cadenza.models._errors import retry_after_seconds
from cadenza.types.events import Event, FallbackUsed, LLMCall, RetryScheduled
from cadenza.types.usage import Usage

__all__ = ["llm_server"]

APIS = ["openai", "anthropic"]


async def run_collecting(worker: Agent, task: str = "Go") -> tuple[list[Event], object]:
    """Run and return (events, output or the exception raised)."""
    events: list[Event] = []
    try:
        result = await worker.run(task, sinks=[events.append])
    except Exception as exc:
        return events, exc
    return events, result.output


@pytest.mark.parametrize("api", APIS)
async def test_429_retry_after_is_honoured_then_success(llm_server: FakeLLMServer, api: str) -> None:
    llm_server.push(api, Reply(status=429, retry_after="0.05"), Reply(text="Finally."))

    events, output = await run_collecting(agent(model_for(api, llm_server)))

    assert output == "Finally."
    [retry] = of_type(events, RetryScheduled)
    assert retry.delay == 0.05
    assert retry.attempt == 1
    assert "429" in retry.reason
    assert len(llm_server.requests(api)) == 2


@pytest.mark.parametrize("api", APIS)
async def test_retry_after_ms_wins_over_retry_after(llm_server: FakeLLMServer, api: str) -> None:
    llm_server.push(api, Reply(status=429, retry_after="9", retry_after_ms=30), Reply(text="ok"))

    events, output = await run_collecting(agent(model_for(api, llm_server)))

    assert output == "ok"
    assert [r.delay for r in of_type(events, RetryScheduled)] == [0.03]


@pytest.mark.parametrize(
    ("api", "status"), [("openai", 500), ("openai", 503), ("anthropic", 500), ("anthropic", 529)]
)
async def test_server_errors_are_retried_then_succeed(
    llm_server: FakeLLMServer, api: str, status: int
) -> None:
    llm_server.push(api, Reply(status=status), Reply(status=status), Reply(text="Recovered."))

    events, output = await run_collecting(agent(model_for(api, llm_server)))

    assert output == "Recovered."
    retries = of_type(events, RetryScheduled)
    assert [r.attempt for r in retries] == [1, 2]
    assert all(0.0 < r.delay <= 0.02 for r in retries)  # backoff from RetryPolicy(base_delay=0.01)
    assert len(llm_server.requests(api)) == 3
    assert len(of_type(events, LLMCall)) == 1


@pytest.mark.parametrize("api", APIS)
async def test_timeout_is_retried_then_succeeds(llm_server: FakeLLMServer, api: str) -> None:
    llm_server.push(api, Reply(delay=1.0, text="too late"), Reply(text="In time."))

    events, output = await run_collecting(agent(model_for(api, llm_server, timeout=0.25)))

    assert output == "In time."
    [retry] = of_type(events, RetryScheduled)
    assert "timed out" in retry.reason
    assert len(llm_server.requests(api)) == 2


@pytest.mark.parametrize("api", APIS)
async def test_connection_dropped_mid_stream_is_retried(llm_server: FakeLLMServer, api: str) -> None:
    long_text = " ".join(f"word{i}" for i in range(40))
    llm_server.push(api, Reply(text=long_text, drop=True), Reply(text="Whole answer."))

    events = [e async for e in agent(model_for(api, llm_server)).stream("Go")]

    assert events[-1].output == "Whole answer."  # type: ignore[attr-defined]
    [retry] = of_type(events, RetryScheduled)
    assert "connection" in retry.reason.lower()
    assert len(llm_server.requests(api)) == 2


@pytest.mark.parametrize("api", APIS)
async def test_retries_exhausted_raise_model_error_naming_model_and_status(
    llm_server: FakeLLMServer, api: str
) -> None:
    llm_server.push(api, *[Reply(status=503)] * 5)
    model = model_for(api, llm_server)

    events, error = await run_collecting(agent(model, retry=RetryPolicy(max_attempts=3, base_delay=0.01)))

    assert isinstance(error, ModelError)
    assert error.model == model.name
    assert error.status == 503
    assert error.retryable is True
    assert model.name in str(error) and "503" in str(error)
    assert len(of_type(events, RetryScheduled)) == 2
    assert len(llm_server.requests(api)) == 3


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_fail_at_once_without_retry(
    llm_server: FakeLLMServer, api: str, status: int
) -> None:
    llm_server.push(api, Reply(status=status))

    events, error = await run_collecting(agent(model_for(api, llm_server)))

    assert isinstance(error, ModelError)
    assert (error.status, error.retryable) == (status, False)
    assert of_type(events, RetryScheduled) == []
    assert len(llm_server.requests(api)) == 1  # the SDK's own retries are off too


@pytest.mark.parametrize("api", APIS)
async def test_malformed_json_body_is_a_response_error_and_retried(
    llm_server: FakeLLMServer, api: str
) -> None:
    llm_server.push(api, Reply(malformed=True), Reply(text="Valid now."))

    events, output = await run_collecting(agent(model_for(api, llm_server)))

    assert output == "Valid now."
    [retry] = of_type(events, RetryScheduled)
    assert "not valid JSON" in retry.reason


@pytest.mark.parametrize("api", APIS)
async def test_malformed_json_every_time_ends_in_model_response_error(
    llm_server: FakeLLMServer, api: str
) -> None:
    llm_server.push(api, *[Reply(malformed=True)] * 2)

    _, error = await run_collecting(agent(model_for(api, llm_server), retry=RetryPolicy(2, 0.01)))

    assert isinstance(error, ModelResponseError)
    assert "not valid JSON" in str(error)


async def test_fallback_moves_on_when_the_first_model_fails_for_good(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(status=401))
    llm_server.push("anthropic", Reply(text="Claude answers."))
    first, second = openai_model(llm_server, name="gpt-x"), anthropic_model(llm_server, name="claude-y")

    events, output = await run_collecting(agent([first, second]))

    assert output == "Claude answers."
    [fallback] = of_type(events, FallbackUsed)
    assert (fallback.from_model, fallback.to_model) == ("openai:gpt-x", "anthropic:claude-y")
    assert "401" in fallback.reason
    assert len(llm_server.requests("openai")) == 1
    assert len(llm_server.requests("anthropic")) == 1
    [call] = of_type(events, LLMCall)
    assert call.model == "anthropic:claude-y"


async def test_fallback_after_retries_are_exhausted(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    llm_server.push("openai", *[Reply(status=500)] * 3)
    retry = RetryPolicy(max_attempts=3, base_delay=0.01)

    events, output = await run_collecting(
        Agent("a", model=["openai:gpt-x", "anthropic:claude-y"], retry=retry)
    )

    assert output == "Fake answer to: Go"
    assert len(of_type(events, RetryScheduled)) == 2
    assert len(of_type(events, FallbackUsed)) == 1
    assert len(llm_server.requests("openai")) == 3
    assert len(llm_server.requests("anthropic")) == 1


async def test_every_model_failing_raises_the_last_error(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(status=403))
    llm_server.push("anthropic", Reply(status=404))

    events, error = await run_collecting(agent([openai_model(llm_server), anthropic_model(llm_server)]))

    assert isinstance(error, ModelError)
    assert error.status == 404 and error.model == "anthropic:claude-sonnet-4-6"
    assert len(of_type(events, FallbackUsed)) == 1


async def test_missing_key_on_the_first_model_falls_back_to_the_next(llm_server: FakeLLMServer) -> None:
    events, output = await run_collecting(agent(["openai:gpt-4.1-mini", anthropic_model(llm_server)]))

    assert output == "Fake answer to: Go"
    [fallback] = of_type(events, FallbackUsed)
    assert "OPENAI_API_KEY" in fallback.reason
    assert llm_server.requests("openai") == []


async def test_missing_key_on_the_only_model_raises_missing_credentials() -> None:
    with pytest.raises(MissingCredentialsError, match="GROQ_API_KEY"):
        await Agent("a", model="groq:llama-3.3-70b", retry=FAST).run("Go")


def test_unknown_provider_string_is_rejected_when_the_agent_is_built() -> None:
    with pytest.raises(UnknownModelError) as caught:
        Agent("a", model="nosuch:model-1")
    assert caught.value.model == "nosuch:model-1"
    assert "openai" in caught.value.known and "anthropic" in caught.value.known


class EchoModel:
    """A user's own provider: just a name and an async complete()."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return "mine:echo"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return ModelResponse(
            text=f"echo: {request.messages[-1].content}", usage=Usage(input_tokens=3, output_tokens=2)
        )


async def test_a_user_defined_model_plugs_in_and_serves_as_a_fallback(llm_server: FakeLLMServer) -> None:
    mine = EchoModel()
    llm_server.push("openai", Reply(status=400))

    events, output = await run_collecting(agent([openai_model(llm_server), mine]), "hello")

    assert output == "echo: hello"
    assert len(mine.requests) == 1
    [fallback] = of_type(events, FallbackUsed)
    assert fallback.to_model == "mine:echo"
    [call] = of_type(events, LLMCall)
    assert (call.model, call.usage.input_tokens, call.cost) == ("mine:echo", 3, 0)


def test_retry_after_header_forms() -> None:
    now = time.time()
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert 28 <= (retry_after_seconds({"retry-after": http_date}, now=now) or 0) <= 30
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
