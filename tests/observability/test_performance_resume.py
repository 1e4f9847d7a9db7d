"""A resumed run's replayed steps are not counted again by the performance tracker."""

from __future__ import annotations

import uuid

import pytest

from cadenza import Agent, Pipeline
from cadenza.durable import Approval, ApprovalRequired, resume_run, run_durable
from cadenza.observability.performance import PerformanceTracker
from cadenza.store import Store


def gated() -> Pipeline:
    return Pipeline(
        [
            Agent("drafter", model="offline", instructions="Draft."),
            Approval("review", prompt="Publish?"),
            Agent("publisher", model="offline", instructions="Publish."),
        ],
        name="announce",
    )


async def test_replayed_steps_of_a_resumed_run_count_once(store: Store) -> None:
    run_id = uuid.uuid4().hex
    with pytest.raises(ApprovalRequired):
        await run_durable(gated(), "launch", store=store, run_id=run_id)
    await store.decide(run_id, approved=True, comment="ok", by="ana")
    assert (await resume_run(run_id, store=store, flow=gated())).status == "succeeded"
    await store.writer.flush()
    stats = {s.agent: s for s in await PerformanceTracker(store).stats(since="1h")}
    assert stats["drafter"].invocations == 1 and stats["drafter"].succeeded == 1
    assert stats["publisher"].invocations == 1
