"""Budgets: the pre-send bound, the hard stop, shared reservations, alerts, agent budgets."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply

from cadenza import Agent, Budget, FunctionModel, Parallel, Pipeline, tool
from cadenza.engine.budget import input_token_bound, max_cost_of
from cadenza.errors import BudgetExceeded, ConfigurationError
from cadenza.models._clients import close_clients
from cadenza.models.base import ModelRequest, ModelResponse, ToolDefinition
from cadenza.models.openai import OpenAIModel
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.observability.alerts import flush_alerts
from cadenza.types.events import BudgetWarning, LLMCall, RunFailed
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage

# -- the Budget value --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_cost_usd": "abc"}, "max_cost_usd"),
        ({"max_cost_usd": -1}, "max_cost_usd"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"max_model_calls": 1.5}, "max_model_calls"),
        ({"alert_at": (0.5, 1.5)}, "alert_at"),
    ],
)
def test_bad_limits_are_configuration_errors_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        Budget(**kwargs)


def test_budget_from_a_workflow_mapping() -> None:
    budget = Budget.from_dict({"max_tokens": 1000, "max_cost_usd": "0.25", "alert_at": [0.9, 0.5]})
    assert budget.max_cost_usd == Decimal("0.25")
    assert budget.alert_at == (0.5, 0.9)
    with pytest.raises(ConfigurationError, match=r"flow.yaml: unknown budget field\(s\) \['max_dollars'\]"):
        Budget.from_dict({"max_dollars": 3}, where="flow.yaml")


def test_run_rejects_a_budget_that_is_not_a_budget() -> None:
    agent = Agent("a", model=FunctionModel(lambda m, r: "ok"))
    with pytest.raises(ConfigurationError, match=r"cadenza\.Budget"):
        asyncio.run(agent.run("x", budget={"max_tokens": 5}))


# -- the bound ---------------------------------------------------------------------------------


def test_input_bound_counts_bytes_not_characters_and_every_part_of_the_request() -> None:
    ascii_request = ModelRequest([Message("user", "a" * 100)])
    wide_request = ModelRequest([Message("user", "é" * 100)])  # two UTF-8 bytes each
    assert input_token_bound(wide_request) == input_token_bound(ascii_request) + 100
    tool_def = ToolDefinition(
        "search", "Search the web", {"type": "object", "properties": {"q": {"type": "string"}}}
    )
    with_tools = ModelRequest([Message("user", "a" * 100)], [tool_def])
    assert input_token_bound(with_tools) > input_token_bound(ascii_request) + len(
        json.dumps(tool_def.parameters)
    )
    with_calls = ModelRequest(
        [
            Message("user", "a" * 100),
            Message("assistant", "", tool_calls=[ToolCall("c1", "search", '{"q": "xyz"}')]),
        ]
    )
    assert input_token_bound(with_calls) > input_token_bound(ascii_request) + len('{"q": "xyz"}')


def test_cost_bound_charges_input_at_the_dearer_cache_write_rate() -> None:
    set_price("acme:m", input_per_mtok="1", output_per_mtok="4", cache_write_per_mtok="2")
    try:
        assert max_cost_of("acme:m", 1_000_000, 0) == Decimal(2)
        assert max_cost_of("acme:m", 0, 1_000_000) == Decimal(4)
    finally:
        clear_price_overrides()


# -- the hard stop against a real HTTP provider ------------------------------------------------


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeLLMServer]:
    """The fake provider on a free port; pooled SDK clients are closed with the test's loop."""
    with FakeLLMServer() as server:
        yield server
        await close_clients()


def _openai(server: FakeLLMServer) -> OpenAIModel:
    return OpenAIModel("gpt-test", provider="vllm", base_url=server.openai_url, api_key="k")


def _three_stages(server: FakeLLMServer, **agent_kwargs: Any) -> Pipeline:
    return Pipeline(
        [Agent(name, model=_openai(server), **agent_kwargs) for name in ("research", "analysis", "summary")]
    )


async def test_a_run_stops_before_the_call_that_would_cross_its_token_budget(
    llm_server: FakeLLMServer,
) -> None:
    llm_server.push(
        "openai",
        *[
            Reply(text=text, usage={"prompt_tokens": 40, "completion_tokens": 60})
            for text in ("one", "two", "three")
        ],
    )
    flow = _three_stages(llm_server, max_tokens=100)
    # Two calls report 100 tokens each; the third needs its input bound plus at least 16 answer
    # tokens, and only its bound plus 15 is left.
    bound = input_token_bound(ModelRequest([Message("user", "Write the report")], max_tokens=100))
    budget = Budget(max_tokens=200 + bound + 15)  # 2 calls reported 200; 15 < min answer of 16
    with pytest.raises(BudgetExceeded) as caught:
        await flow.run("Write the report", budget=budget)
    exc = caught.value
    assert exc.limit == "max_tokens"
    assert "analysis" in str(exc) or "summary" in str(exc)
    # Only the calls that fit reached the server; the crossing call was never sent.
    sent = llm_server.requests("openai")
    assert exc.result is not None
    assert exc.result.status == "budget_exceeded"
    assert exc.result.usage.total_tokens == 100 * len(sent)
    assert exc.result.usage.total_tokens <= budget.max_tokens  # type: ignore[operator]
    assert len(sent) == 2
    failed = [e for e in exc.result.events if isinstance(e, RunFailed)]
    assert failed and failed[0].status == "budget_exceeded"
    assert exc.result.output == "two"  # the output so far: the last stage that finished


async def test_a_tight_budget_lowers_max_tokens_so_a_short_answer_still_goes_through(
    llm_server: FakeLLMServer,
) -> None:
    llm_server.push("openai", Reply(text="short", usage={"prompt_tokens": 10, "completion_tokens": 5}))
    agent = Agent("writer", model=_openai(llm_server))  # no max_tokens of its own
    bound = input_token_bound(ModelRequest([Message("user", "Say hi")]))
    result = await agent.run("Say hi", budget=Budget(max_tokens=bound + 50))
    assert result.output == "short"
    body = llm_server.requests("openai")[0].body
    assert body["max_tokens"] == 50


async def test_without_a_token_limit_the_request_keeps_its_own_max_tokens(llm_server: FakeLLMServer) -> None:
    agent = Agent("writer", model=_openai(llm_server))
    await agent.run("Say hi", budget=Budget(max_model_calls=3))
    assert "max_tokens" not in llm_server.requests("openai")[0].body


async def test_a_money_budget_stops_before_the_call_it_cannot_pay_for(llm_server: FakeLLMServer) -> None:
    set_price("vllm:gpt-test", input_per_mtok="1000", output_per_mtok="1000")  # $0.001 a token
    try:
        llm_server.push(
            "openai", *[Reply(text="ok", usage={"prompt_tokens": 50, "completion_tokens": 50})] * 3
        )
        flow = _three_stages(llm_server, max_tokens=50)
        bound = input_token_bound(ModelRequest([Message("user", "Price it")], max_tokens=50))
        # One call costs $0.10 as reported; the second needs at least (bound + 16) * $0.001.
        budget = Budget(max_cost_usd=Decimal("0.1") + Decimal(bound + 10) / 1000)
        with pytest.raises(BudgetExceeded) as caught:
            await flow.run("Price it", budget=budget)
        assert caught.value.limit == "max_cost_usd"
        assert len(llm_server.requests("openai")) == 1
        assert caught.value.result is not None
        assert caught.value.result.cost == Decimal("0.1")
    finally:
        clear_price_overrides()


async def test_max_model_calls_counts_retried_attempts_that_reached_the_server(
    llm_server: FakeLLMServer,
) -> None:
    llm_server.push("openai", Reply(status=500), Reply(text="one"), Reply(text="two"))
    flow = _three_stages(llm_server)
    with pytest.raises(BudgetExceeded) as caught:
        await flow.run("Count", budget=Budget(max_model_calls=3))
    assert caught.value.limit == "max_model_calls"
    assert len(llm_server.requests("openai")) == 3


async def test_wall_time_budget_ends_a_slow_run(llm_server: FakeLLMServer) -> None:
    llm_server.push("openai", Reply(text="slow", delay=3.0))
    agent = Agent("slow", model=_openai(llm_server))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BudgetExceeded) as caught:
        await agent.run("Wait", budget=Budget(max_seconds=0.3))
    assert caught.value.limit == "max_seconds"
    assert loop.time() - started < 2.0
    assert caught.value.result is not None and caught.value.result.status == "budget_exceeded"


# -- parallel branches share one budget --------------------------------------------------------


async def test_parallel_branches_draw_on_one_budget_without_overspending() -> None:
    in_flight = 0
    most_in_flight = 0
    started = 0

    async def slow(messages: list[Message], request: ModelRequest) -> ModelResponse:
        nonlocal in_flight, most_in_flight, started
        started += 1
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return ModelResponse(text="done", usage=Usage(input_tokens=30, output_tokens=20))

    branches = [Agent(f"b{i}", model=FunctionModel(slow), max_tokens=100) for i in range(6)]
    bound = input_token_bound(ModelRequest(branches[0]._start_messages("Go", None), max_tokens=100))
    per_call = bound + 100
    budget = Budget(max_tokens=per_call * 3 + 10)  # room for 3 full reservations at once, not a 4th
    flow = Parallel(branches, on_failure="best_effort", quorum=1, merge="list")
    result = await flow.run("Go", budget=budget)
    # Three reserved their full bound at once; the others were refused before sending, because
    # the first three still held their reservations (a 4th would get 10 tokens: no input fits).
    assert most_in_flight == 3
    assert started == 3
    assert result.output == ["done"] * 3
    assert result.usage.total_tokens == 150 <= budget.max_tokens  # type: ignore[operator]


async def test_parallel_reservations_settle_so_later_calls_see_the_real_usage() -> None:
    async def quick(messages: list[Message], request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(0.01)
        return ModelResponse(text="ok", usage=Usage(input_tokens=1, output_tokens=1))

    agents = [Agent(f"s{i}", model=FunctionModel(quick), max_tokens=100) for i in range(4)]
    bound = input_token_bound(ModelRequest(agents[0]._start_messages("Go", None), max_tokens=100))
    flow = Pipeline([Parallel(agents[:2], merge="list"), Parallel(agents[2:], merge="list")])
    # Room for two reservations at a time: the second parallel only runs if the first settled.
    result = await flow.run("Go", budget=Budget(max_tokens=2 * (bound + 100) + 10))
    assert result.usage.requests == 4


# -- alerts ------------------------------------------------------------------------------------


class _Receiver(ThreadingHTTPServer):
    bodies: list[dict[str, Any]]


@pytest.fixture
def webhook() -> Iterator[_Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            self.server.bodies.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = _Receiver(("127.0.0.1", 0), Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_alerts_fire_once_per_threshold_as_event_log_and_webhook(
    webhook: _Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(messages: list[Message], request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="x", usage=Usage(input_tokens=100, output_tokens=100))

    url = f"http://127.0.0.1:{webhook.server_address[1]}/alerts"
    flow = Pipeline([Agent(f"a{i}", model=FunctionModel(answer), max_tokens=200) for i in range(4)])
    caplog.set_level(logging.WARNING, logger="cadenza.budget")
    result = await flow.run(
        "Go", budget=Budget(max_tokens=10_000, max_model_calls=5, alert_at=(0.5, 0.8), alert_webhook=url)
    )
    warnings = [e for e in result.events if isinstance(e, BudgetWarning)]
    # Calls: 4 of 5 crosses 50% (call 3) and 80% (call 4); tokens reach 800 of 10 000: no alert.
    assert [(w.limit, w.threshold) for w in warnings] == [("max_model_calls", 0.5), ("max_model_calls", 0.8)]
    assert warnings[0].used == 3 and warnings[0].maximum == 5
    assert [r.budget_limit for r in caplog.records if r.name == "cadenza.budget"] == [  # type: ignore[attr-defined]
        "max_model_calls",
        "max_model_calls",
    ]
    await flush_alerts()
    assert sorted((b["limit"], b["threshold"]) for b in webhook.bodies) == [
        ("max_model_calls", 0.5),
        ("max_model_calls", 0.8),
    ]
    assert all(b["kind"] == "budget_warning" and b["run_id"] == result.run_id for b in webhook.bodies)


# -- an agent's own budget ---------------------------------------------------------------------


async def test_an_agents_own_budget_limits_it_within_the_run() -> None:
    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        return "found"

    def loop_forever(messages: list[Message], request: ModelRequest) -> ModelResponse:
        if request.tools:
            return ModelResponse(tool_calls=[ToolCall(f"c{len(messages)}", "lookup", '{"q": "x"}')])
        return ModelResponse(text="final")

    calls: list[str] = []

    def counting(messages: list[Message], request: ModelRequest) -> ModelResponse:
        calls.append("writer")
        return ModelResponse(text="written", usage=Usage(1, 1))

    greedy = Agent(
        "greedy", model=FunctionModel(loop_forever), tools=[lookup], budget=Budget(max_model_calls=2)
    )
    flow = Pipeline([Agent("writer", model=FunctionModel(counting)), greedy])
    with pytest.raises(BudgetExceeded) as caught:
        await flow.run("Go", budget=Budget(max_model_calls=100))
    assert caught.value.limit == "max_model_calls"
    assert "agent:greedy" in str(caught.value)
    assert caught.value.result is not None
    assert sum(1 for e in caught.value.result.events if isinstance(e, LLMCall)) == 3  # writer + 2 greedy


def test_agent_rejects_a_budget_that_is_not_a_budget() -> None:
    with pytest.raises(ConfigurationError, match="agent 'a': budget"):
        Agent("a", budget=100)  # type: ignore[arg-type]
