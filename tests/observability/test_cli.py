"""``cadenza costs``, ``cadenza agents stats`` and ``cadenza metrics`` against a real SQLite store
filled by durable runs; bad input exits with 2 and a message, never a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.cli.app import app
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.store import Store
from cadenza.types.messages import Message
from cadenza.types.usage import Usage

runner = CliRunner()


def _reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
    return ModelResponse(text="done", usage=Usage(120, 30))


@pytest.fixture
def filled(sqlite_url: str) -> Iterator[str]:
    """A SQLite store with two durable runs of a two-agent pipeline on a priced model."""
    set_price("function:priced", input_per_mtok="1", output_per_mtok="4")

    async def fill() -> None:
        store = await Store.open(sqlite_url, upgrade=True)
        try:
            model = FunctionModel(_reply, name="priced")
            flow = Pipeline([Agent("drafter", model=model), Agent("editor", model=model)], name="report")
            for task in ("first", "second"):
                await flow.run(task, store=store)
        finally:
            await store.close()

    try:
        asyncio.run(fill())
        yield sqlite_url
    finally:
        clear_price_overrides()


def test_costs_by_agent_as_json(filled: str) -> None:
    result = runner.invoke(app, ["costs", "--by", "agent", "--since", "1h", "--json", "--url", filled])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {line["key"]: line["calls"] for line in report["lines"]} == {"drafter": 2, "editor": 2}
    assert report["total"]["input_tokens"] == 4 * 120
    assert Decimal(report["total"]["cost_usd"]) == 4 * Decimal(120 * 1 + 30 * 4) / 1_000_000


def test_costs_table_names_every_group_and_the_total(filled: str) -> None:
    result = runner.invoke(app, ["costs", "--by", "workflow", "--url", filled])
    assert result.exit_code == 0, result.output
    assert "report" in result.stdout and "total" in result.stdout and "0.000960" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["costs", "--by", "colour"], "unknown grouping 'colour'"),
        (["costs", "--since", "last week"], "since: 'last week'"),
        (["agents", "stats", "--since", "yesterday-ish"], "since: 'yesterday-ish'"),
    ],
)
def test_bad_input_exits_2_with_a_message(filled: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--url", filled])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_agents_stats_json(filled: str) -> None:
    result = runner.invoke(app, ["agents", "stats", "--json", "--url", filled])
    assert result.exit_code == 0, result.output
    agents = {row["agent"]: row for row in json.loads(result.stdout)["agents"]}
    assert set(agents) == {"drafter", "editor"}
    assert agents["editor"]["invocations"] == 2 and agents["editor"]["success_rate"] == 1.0
    assert agents["drafter"]["input_tokens"] == 240


def test_metrics_prints_prometheus_text_of_the_store(filled: str) -> None:
    result = runner.invoke(app, ["metrics", "--url", filled])
    assert result.exit_code == 0, result.output
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(result.stdout)
        for s in family.samples
    }
    assert samples[("cadenza_stored_runs", (("status", "succeeded"), ("workflow", "report")))] == 2
    key = (("agent", "editor"), ("direction", "output"), ("model", "function:priced"), ("workflow", "report"))
    assert samples[("cadenza_tokens_total", key)] == 60
