"""Period budgets: a limit over a rolling period of a workflow, across its runs.

A durable run reads the ledger at its start and gets what the period has left; the second run
of a day stops before the model call that would cross the day's limit, and that request never
reaches the (fake, real-HTTP) provider. On SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply

from cadenza import Agent, Budget, Pipeline
from cadenza.errors import BudgetExceeded, ConfigurationError
from cadenza.models._clients import close_clients
from cadenza.models.openai import OpenAIModel
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.observability.ledger import cost_report
from cadenza.store import Store
from cadenza.workflows import WorkflowFileError, load_workflow_text

# Output tokens cost 10 $/Mtok, input almost nothing: each call below reports 10 output tokens,
# so it costs $0.0001 (plus a few millionths for input). The day's limit, $0.0004, pays for
# three calls and not a fourth. The period is the workflow's as runs store it: the root step's
# name (the pipeline's).
DAILY = """\
name: daily-report
defaults: {model: "openai:gpt-period"}
agents:
  outline: {instructions: Outline.}
  write: {instructions: Write.}
workflow:
  pipeline: {name: daily-report, stages: [outline, write]}
budget:
  period: day
  max_cost_usd: "0.0004"
  min_output_tokens: 12
"""


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        server.set_default("openai", Reply(usage={"prompt_tokens": 20, "completion_tokens": 10}))
        yield server
        await close_clients()


@pytest.fixture(autouse=True)
def prices() -> Any:
    set_price("openai:gpt-period", input_per_mtok="0.01", output_per_mtok="10")
    yield
    clear_price_overrides()


async def test_the_second_run_of_a_day_stops_before_the_call_that_would_cross_the_days_limit(
    store: Store, fake: FakeLLMServer
) -> None:
    flow = load_workflow_text(DAILY, "daily.yaml")
    assert flow.budget.period == "day" and flow.budget.max_cost_usd == Decimal("0.0004")

    first = await flow.run("Monday", store=store)
    assert first.status == "succeeded"
    assert len(fake.requests("openai")) == 2

    with pytest.raises(BudgetExceeded) as caught:
        await flow.run("Monday again", store=store)
    assert caught.value.limit == "max_cost_usd"
    # The second run's first call fitted in what the day had left; its second did not and was
    # never sent.
    assert len(fake.requests("openai")) == 3
    await store.writer.flush()
    spent = (await cost_report(store, by="run", since="1d", workflow="daily-report")).total
    assert spent.calls == 3
    assert spent.cost <= Decimal("0.0004")
    runs = await store.list_runs(workflow="daily-report")
    assert sorted(r.status for r in runs) == ["budget_exceeded", "succeeded"]

    # A run under another workflow's name has its own period.
    other = load_workflow_text(DAILY.replace("daily-report", "weekly-report"), "weekly.yaml")
    assert (await other.run("Tuesday", store=store)).status == "succeeded"
    assert len(fake.requests("openai")) == 5


async def test_a_spent_period_refuses_the_run_at_its_start(store: Store, fake: FakeLLMServer) -> None:
    agent = Agent("counter", model=OpenAIModel("gpt-period", provider="openai"))
    daily = Budget(max_model_calls=2, period="day")
    await agent.run("one", store=store, budget=daily)
    await agent.run("two", store=store, budget=daily)
    assert len(fake.requests("openai")) == 2
    with pytest.raises(BudgetExceeded, match="day budget of workflow 'counter' is spent") as caught:
        await agent.run("three", store=store, budget=daily)
    assert caught.value.limit == "max_model_calls"
    assert caught.value.result is not None and caught.value.result.status == "budget_exceeded"
    assert caught.value.result.output is None and caught.value.result.cost == 0
    assert len(fake.requests("openai")) == 2
    statuses = sorted(r.status for r in await store.list_runs(workflow="counter"))
    assert statuses == ["budget_exceeded", "succeeded", "succeeded"]
    # A plain run budget is not a period budget: the same agent still runs.
    assert (await agent.run("four", store=store, budget=Budget(max_model_calls=2))).status == "succeeded"


async def test_a_period_budget_without_a_store_is_a_configuration_error() -> None:
    flow = Pipeline([Agent("a", model="offline")], name="p")
    with pytest.raises(ConfigurationError, match="needs the cost ledger of a store"):
        await flow.run("x", budget=Budget(max_tokens=100, period="week"))
    with pytest.raises(ConfigurationError, match="applies to whole runs"):
        await Agent("b", model="offline", budget=Budget(max_tokens=100, period="day")).run("x")


def test_period_values() -> None:
    assert Budget(period="12h").period == "12h"
    assert Budget.from_dict({"period": "month", "max_cost_usd": 5}).period == "month"
    with pytest.raises(ConfigurationError, match="budget period: expected one of day, week, month"):
        Budget(period="fortnight")
    with pytest.raises(WorkflowFileError, match=r"daily.yaml:9:11: budget.period"):
        load_workflow_text(DAILY.replace("period: day", "period: fortnight"), "daily.yaml")


async def test_a_resumed_run_is_not_charged_twice_for_its_own_calls(
    store: Store, fake: FakeLLMServer
) -> None:
    from cadenza.durable import resume_run

    model = OpenAIModel("gpt-period", provider="openai")
    flow = Pipeline([Agent("a", model=model), Agent("b", model=model)], name="twice")
    await flow.run("first", store=store, budget=Budget(max_model_calls=3, period="day"))
    with pytest.raises(BudgetExceeded) as caught:
        await flow.run("second", store=store, budget=Budget(max_model_calls=3, period="day"))
    assert len(fake.requests("openai")) == 3
    stopped = caught.value.result
    assert stopped is not None
    # A larger daily limit: the day has 4 - 2 = 2 calls left for this run, whose first call
    # replays from the journal (charged again, not sent) and whose second is sent.
    resumed = await resume_run(
        stopped.run_id, store=store, flow=flow, budget=Budget(max_model_calls=4, period="day")
    )
    assert resumed.status == "succeeded"
    assert len(fake.requests("openai")) == 4


class _TeamStore:
    """The store as the HTTP service gives it to a run's driver: new runs belong to ``team``."""

    def __init__(self, store: Store, team: str) -> None:
        self._store, self._team = store, team

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def create_run(self, **kwargs: Any) -> Any:
        return await self._store.create_run(**kwargs, team=self._team)


async def test_teams_have_their_own_period_costs_and_stats(store: Store, fake: FakeLLMServer) -> None:
    from cadenza.durable import run_durable
    from cadenza.observability.performance import PerformanceTracker

    agent = Agent("shared", model=OpenAIModel("gpt-period", provider="openai"))
    daily = Budget(max_model_calls=1, period="day")
    red, blue = _TeamStore(store, "red"), _TeamStore(store, "blue")
    await run_durable(agent, "one", store=red, budget=daily)  # type: ignore[arg-type]
    with pytest.raises(BudgetExceeded, match="of team 'red' is spent"):
        await run_durable(agent, "two", store=red, budget=daily)  # type: ignore[arg-type]
    await run_durable(agent, "one", store=blue, budget=daily)  # type: ignore[arg-type]
    assert len(fake.requests("openai")) == 2
    await store.writer.flush()
    for team in ("red", "blue"):
        assert (await cost_report(store, by="run", team=team)).total.calls == 1
        (stats,) = await PerformanceTracker(store).stats(team=team)
        assert (stats.agent, stats.invocations) == ("shared", 1)
    assert (await cost_report(store, by="run")).total.calls == 2
    assert (await cost_report(store, by="run", team="green")).total.calls == 0
