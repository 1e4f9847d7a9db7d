"""The cost ledger equals what the provider reported, to the token, across retries, fallbacks
and parallel branches; reports group it by run, agent, workflow, model, user and day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply

from cadenza import Agent, Budget, Parallel, Pipeline, RetryPolicy
from cadenza.errors import BudgetExceeded, ConfigurationError
from cadenza.models._clients import close_clients
from cadenza.models.anthropic import AnthropicModel
from cadenza.models.openai import OpenAIModel
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.observability.ledger import agent_of, cost_report, parse_since, period_budget
from cadenza.store import Store

FAST = RetryPolicy(max_attempts=3, base_delay=0.001)


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server
        await close_clients()


@pytest.fixture(autouse=True)
def prices() -> Any:
    set_price("vllm:gpt-ledger", input_per_mtok="1.25", output_per_mtok="10")
    set_price("anthropic:claude-ledger", input_per_mtok="3", output_per_mtok="15", cache_read_per_mtok="0.3")
    yield
    clear_price_overrides()


def _openai(server: FakeLLMServer) -> OpenAIModel:
    return OpenAIModel("gpt-ledger", provider="vllm", base_url=server.openai_url, api_key="k")


def _anthropic(server: FakeLLMServer) -> AnthropicModel:
    return AnthropicModel("claude-ledger", base_url=server.url, api_key="k")


async def test_ledger_totals_equal_the_providers_reported_usage(store: Store, fake: FakeLLMServer) -> None:
    # OpenAI-format answers, each with its own usage; one 500 in between forces a retry.
    openai_usage = [(101, 11), (203, 23), (307, 37), (409, 49)]
    fake.push(
        "openai",
        Reply(text="a", usage={"prompt_tokens": 101, "completion_tokens": 11}),
        Reply(status=500),
        *[Reply(text="b", usage={"prompt_tokens": i, "completion_tokens": o}) for i, o in openai_usage[1:]],
    )
    # Anthropic: a 400 (not retryable) sends the "fallback" branch on to OpenAI; one success with
    # cached input for the "claude" branch.
    fake.push(
        "anthropic",
        Reply(status=400),
        Reply(text="c", usage={"input_tokens": 55, "output_tokens": 7, "cache_read_input_tokens": 20}),
    )
    branches = [
        Agent("plain", model=_openai(fake), retry=FAST),
        Agent("fallback", model=[_anthropic(fake), _openai(fake)], retry=FAST),
        Agent("retried", model=_openai(fake), retry=FAST),
    ]
    # The anthropic queue is taken in request order: make the fallback branch ask first.
    flow = Pipeline(
        [
            Parallel(branches, merge="list", name="fan"),
            Agent("claude", model=_anthropic(fake), retry=FAST),
            Agent("closer", model=_openai(fake), retry=FAST),
        ],
        name="ledgered",
    )
    result = await flow.run("Count every token", store=store)
    await store.writer.flush()

    assert len(fake.requests("openai")) == 5  # 4 answers + the 500
    assert len(fake.requests("anthropic")) == 2
    # Anthropic reports uncached input (55) and cache reads (20) apart; Usage.input_tokens is both.
    reported_in = sum(i for i, _ in openai_usage) + 55 + 20
    reported_out = sum(o for _, o in openai_usage) + 7
    expected_cost = (
        sum(Decimal(i) * Decimal("1.25") + Decimal(o) * 10 for i, o in openai_usage)
        + Decimal(55) * 3
        + Decimal(20) * Decimal("0.3")
        + Decimal(7) * 15
    ) / 1_000_000

    report = await cost_report(store, by="model")
    total = report.total
    assert (total.input_tokens, total.output_tokens, total.cache_read_tokens) == (
        reported_in,
        reported_out,
        20,
    )
    assert total.calls == 5
    assert total.cost == expected_cost
    assert (result.usage.input_tokens, result.usage.output_tokens, result.cost) == (
        reported_in,
        reported_out,
        expected_cost,
    )
    by_model = {line.key: line for line in report.lines}
    assert by_model["anthropic:claude-ledger"].input_tokens == 75
    assert by_model["vllm:gpt-ledger"].calls == 4

    by_agent = {line.key: line for line in (await cost_report(store, by="agent")).lines}
    assert set(by_agent) == {"plain", "fallback", "retried", "claude", "closer"}
    assert (
        by_agent["claude"].cost
        == (Decimal(55) * 3 + Decimal(20) * Decimal("0.3") + Decimal(7) * 15) / 1_000_000
    )
    assert sum(line.input_tokens for line in by_agent.values()) == reported_in

    by_run = (await cost_report(store, by="run")).lines
    assert [(line.key, line.runs) for line in by_run] == [(result.run_id.replace("-", ""), 1)]
    (day,) = (await cost_report(store, by="day")).lines
    assert day.key == datetime.now(UTC).date().isoformat()
    (workflow,) = (await cost_report(store, by="workflow")).lines
    assert workflow.key == "ledgered" and workflow.cost == expected_cost
    (user,) = (await cost_report(store, by="user")).lines
    assert user.calls == 5
    assert (await cost_report(store, by="model", since="1h", workflow="other")).total.calls == 0
    future = (await cost_report(store, by="model", since=datetime.now(UTC) + timedelta(minutes=1))).total
    assert future.calls == 0


async def test_a_period_budget_gives_a_run_only_what_the_period_has_left(
    store: Store, fake: FakeLLMServer
) -> None:
    fake.push("openai", *[Reply(text="x", usage={"prompt_tokens": 40, "completion_tokens": 10})] * 3)
    agent = Agent("worker", model=_openai(fake))
    await agent.run("one", store=store)
    await agent.run("two", store=store)
    await store.writer.flush()
    daily = Budget(max_tokens=1000, max_model_calls=3)
    left = await period_budget(store, daily, period="day", workflow="worker")
    assert (left.max_tokens, left.max_model_calls) == (900, 1)
    await agent.run("three", store=store, budget=left)
    await store.writer.flush()
    with pytest.raises(BudgetExceeded, match="day budget of workflow 'worker' is spent") as caught:
        await period_budget(store, daily, period="day", workflow="worker")
    assert caught.value.limit == "max_model_calls"
    other = await period_budget(store, daily, period="day", workflow="someone-else")
    assert other.max_tokens == 1000


def test_agent_of_uses_step_names_and_falls_back_to_the_path() -> None:
    assert agent_of("flow/1:team/plan#1/llm#1", {"flow/1:team/plan#1": "boss"}) == "boss"
    assert agent_of("flow/0:research/llm#2", {}) == "research"
    assert agent_of("solo/llm#1", {}) == "solo"


def test_since_parsing_and_its_errors() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert parse_since("7d", now=now) == datetime(2026, 1, 3, tzinfo=UTC)
    assert parse_since("12h", now=now) == datetime(2026, 1, 9, 12, tzinfo=UTC)
    assert parse_since("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="since: 'last week'"):
        parse_since("last week")


async def test_a_resumed_run_counts_its_journaled_calls_against_its_budget(store: Store) -> None:
    from cadenza import FunctionModel
    from cadenza.durable.driver import resume_run
    from cadenza.errors import ModelError
    from cadenza.models.base import ModelRequest, ModelResponse
    from cadenza.types.messages import Message
    from cadenza.types.usage import Usage

    broken = {"closer": True}

    def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
        if broken["closer"] and "closing" in messages[0].content:
            raise ModelError("refused", model="function:m", status=400)
        return ModelResponse(text="ok", usage=Usage(10, 10))

    model = FunctionModel(reply, name="m")
    flow = Pipeline(
        [
            Agent("one", model=model, instructions="first"),
            Agent("two", model=model, instructions="second"),
            Agent("three", model=model, instructions="closing"),
        ],
        name="resumable",
    )
    spent, enough = "0" * 31 + "1", "0" * 31 + "2"
    for run_id in (spent, enough):
        with pytest.raises(ModelError):
            await flow.run("go", store=store, run_id=run_id, budget=Budget(max_model_calls=3))
    broken["closer"] = False
    # Two calls of each run are journaled: a budget of 2 calls is already spent by them.
    with pytest.raises(BudgetExceeded) as caught:
        await resume_run(spent, store=store, flow=flow, budget=Budget(max_model_calls=2))
    assert caught.value.limit == "max_model_calls"
    result = await resume_run(enough, store=store, flow=flow, budget=Budget(max_model_calls=3))
    assert result.output == "ok"
