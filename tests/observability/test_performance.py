"""The performance tracker reads agents' stored step events back: success rate, latency
percentiles, tokens, cost and confidence, per agent and per day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.errors import ModelError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.observability.performance import PerformanceTracker, percentile
from cadenza.store import Store
from cadenza.types.messages import Message
from cadenza.types.usage import Usage


class Scored(BaseModel):
    answer: str
    confidence: float


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile([], 0.5)) == (10.0, 19.0, 0.0)


async def test_stats_per_agent_from_stored_runs(store: Store) -> None:
    confidences = iter([0.9, 0.5, 0.7])

    async def scorer(messages: list[Message], request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(0.02)
        return ModelResponse(
            text=Scored(answer="ok", confidence=next(confidences)).model_dump_json(), usage=Usage(100, 10)
        )

    def writer(messages: list[Message], request: ModelRequest) -> ModelResponse:
        if "fail" in messages[-1].content:
            raise ModelError("refused", model="function:writer", status=400)
        return ModelResponse(text="draft", usage=Usage(10, 5))

    set_price("function:scorer", input_per_mtok="1", output_per_mtok="2")
    try:
        flow = Pipeline(
            [
                Agent("writer", model=FunctionModel(writer, name="writer")),
                Agent("scorer", model=FunctionModel(scorer, name="scorer"), output_type=Scored),
            ],
            name="scored",
        )
        for _ in range(3):
            await flow.run("write", store=store)
        with pytest.raises(ModelError):
            await flow.run("please fail", store=store)
        await store.writer.flush()
    finally:
        clear_price_overrides()

    stats = {s.agent: s for s in await PerformanceTracker(store).stats(since="1h")}
    assert set(stats) == {"writer", "scorer"}
    writer_stats, scorer_stats = stats["writer"], stats["scorer"]
    assert (writer_stats.invocations, writer_stats.succeeded, writer_stats.failed) == (4, 3, 1)
    assert writer_stats.success_rate == 0.75
    assert (writer_stats.input_tokens, writer_stats.output_tokens) == (30, 15)
    assert writer_stats.mean_confidence is None
    assert scorer_stats.invocations == 3 and scorer_stats.success_rate == 1.0
    assert scorer_stats.latency_p50 >= 0.02 and scorer_stats.latency_p95 >= scorer_stats.latency_p50
    assert scorer_stats.cost == Decimal(3) * (100 * 1 + 10 * 2) / 1_000_000
    assert scorer_stats.mean_confidence == pytest.approx(0.7)

    (only,) = await PerformanceTracker(store).stats(since="1h", agent="scorer", by_day=True)
    assert only.day == datetime.now(UTC).date().isoformat()
    assert await PerformanceTracker(store).stats(since=datetime(2999, 1, 1, tzinfo=UTC)) == []
