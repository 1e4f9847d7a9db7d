"""A durable run records each agent invocation as a row of the seed's ``tasks`` table, pointing to
``workflows``/``agents`` rows found or made by name; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.durable import Approval, ApprovalRequired, resume_run, run_durable
from cadenza.models.base import ModelRequest
from cadenza.store import Store
from cadenza.store.tables import agents, tasks, workflows
from cadenza.store.task_records import run_tasks
from cadenza.types.messages import Message


def echo(messages: list[Message], request: ModelRequest) -> str:
    return f"done: {messages[-1].content.splitlines()[0]}"


def fail(messages: list[Message], request: ModelRequest) -> str:
    raise ValueError("the model broke")


def pipeline(name: str = "report", broken: bool = False) -> Pipeline:
    model = FunctionModel(echo, name="echo")
    return Pipeline(
        [
            Agent("researcher", model=model, instructions="Research."),
            Agent("writer", model=FunctionModel(fail, name="broken") if broken else model),
        ],
        name=name,
    )


async def count(store: Store, table: Any) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_each_agent_invocation_is_a_task_row(store: Store) -> None:
    result = await run_durable(pipeline(), "quantum sensors", store=store)
    found = await run_tasks(store, result.run_id)
    assert [t["agent"] for t in found] == ["researcher", "writer"]
    assert [t["path"] for t in found] == ["report/0:researcher", "report/1:writer"]
    researcher, writer = found
    assert researcher["description"] == "quantum sensors"
    assert researcher["result"] == "done: quantum sensors"
    assert (
        writer["description"].startswith("quantum sensors")
        and "done: quantum sensors" in writer["description"]
    )
    assert writer["result"] == result.output
    for task in found:
        assert task["status"] == "succeeded" and task["error"] is None
        assert task["workflow"] == "report" and len(task["workflow_id"]) == 32
        assert task["created_at"] <= task["finished_at"]
        assert task["created_at"].tzinfo is not None

    again = await run_durable(pipeline(), "another", store=store)
    second = await run_tasks(store, again.run_id)
    assert [t["agent_id"] for t in second] == [t["agent_id"] for t in found], "agents upserted by name"
    assert {t["workflow_id"] for t in second} == {found[0]["workflow_id"]}
    assert await count(store, agents) == 2 and await count(store, workflows) == 1
    assert await count(store, tasks) == 4
    async with store.engine.connect() as conn:
        workflow_statuses = set((await conn.execute(select(workflows.c.status))).scalars())
        agent_statuses = set((await conn.execute(select(agents.c.status))).scalars())
    assert workflow_statuses == agent_statuses == {"recorded"}


async def test_a_failed_agent_is_a_failed_task(store: Store) -> None:
    run_id = uuid.uuid4().hex
    with pytest.raises(Exception, match="the model broke"):
        await run_durable(pipeline(broken=True), "x", store=store, run_id=run_id)
    researcher, writer = await run_tasks(store, run_id)
    assert researcher["status"] == "succeeded"
    assert writer["status"] == "failed" and "the model broke" in writer["error"]
    assert writer["result"] is None and writer["finished_at"] is not None


async def test_a_resumed_run_rewrites_its_tasks_instead_of_adding_copies(store: Store) -> None:
    model = FunctionModel(echo, name="echo")
    flow = Pipeline(
        [Agent("drafter", model=model), Approval("review", prompt="Ok?"), Agent("publisher", model=model)],
        name="gated",
    )
    run_id = uuid.uuid4().hex
    with pytest.raises(ApprovalRequired):
        await run_durable(flow, "launch", store=store, run_id=run_id)
    assert [t["agent"] for t in await run_tasks(store, run_id)] == ["drafter"]
    await store.decide(run_id, approved=True, comment="", by="ana")
    await resume_run(run_id, store=store, flow=flow)
    found = await run_tasks(store, run_id)
    assert [(t["agent"], t["status"]) for t in found] == [
        ("drafter", "succeeded"),
        ("publisher", "succeeded"),
    ]


async def test_tasks_add_no_commit_of_their_own(store: Store) -> None:
    """Task rows ride in the batches the journal commits anyway."""
    await run_durable(pipeline(), "warm up", store=store)
    await store.writer.flush()
    before = store.writer.batches
    await run_durable(pipeline(), "measured", store=store)
    with_tasks = store.writer.batches - before
    await store.writer.flush()
    assert await count(store, tasks) == 4
    from cadenza.durable import recorder

    original = recorder.EventRecorder._task
    recorder.EventRecorder._task = lambda self, event: None  # type: ignore[method-assign]
    try:
        before = store.writer.batches
        await run_durable(pipeline(), "measured", store=store)
        without = store.writer.batches - before
    finally:
        recorder.EventRecorder._task = original  # type: ignore[method-assign]
    assert with_tasks == without


def test_runs_show_json_lists_the_tasks(sqlite_url: str) -> None:
    import asyncio

    from cadenza.cli.app import app

    async def start() -> str:
        async with await Store.open(sqlite_url) as store:
            return (await run_durable(pipeline(), "tidal power", store=store)).run_id

    run_id = asyncio.run(start())
    env = {"CADENZA_DATABASE_URL": sqlite_url}
    shown = CliRunner().invoke(app, ["runs", "show", run_id, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert [(t["agent"], t["status"]) for t in document["tasks"]] == [
        ("researcher", "succeeded"),
        ("writer", "succeeded"),
    ]
    assert document["tasks"][0]["description"] == "tidal power"
    assert document["tasks"][1]["result"] == document["output"]
    text = CliRunner().invoke(app, ["runs", "show", run_id], env=env)
    assert "researcher" in text.output and "writer" in text.output


async def test_a_missing_agent_or_run_never_fails_the_batch(store: Store) -> None:
    """Tasks are a record: an agent id that no longer exists becomes NULL, and a row whose run
    is gone is skipped; the runs' journals and results are not touched."""
    writer: Any = store.writer
    writer._task_ids.agents[(None, "researcher")] = "f" * 32  # no such agent row
    result = await run_durable(pipeline(), "still fine", store=store)
    assert result.status == "succeeded"
    assert (await store.get_run(result.run_id)).status == "succeeded"
    entries, _ = await store.journal_size(result.run_id)
    assert entries == 2
    found = await run_tasks(store, result.run_id)
    first = found[0]
    assert (first["agent"], first["agent_id"], first["status"]) == (None, None, "succeeded")
    assert found[1]["agent"] == "writer"

    from datetime import UTC, datetime

    from cadenza.store.task_records import TaskRow

    writer.write_task(TaskRow("0" * 32, "gone/0:x", "x", "running", datetime.now(UTC)))
    after = await run_durable(pipeline(), "after a stray row", store=store)
    assert after.status == "succeeded" and len(await run_tasks(store, after.run_id)) == 2
