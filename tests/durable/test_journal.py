"""Durable runs in one process: journal, replay on resume, fencing, in-flight tools, statuses."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from cadenza import Agent, FunctionModel, Pipeline, tool
from cadenza.durable import InFlightToolError, resume_run, run_durable
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.store import RunLeasedError, RunNotFoundError, RunStateError, Store
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage


class Scripted:
    """A model function that counts calls and can be told to fail on a given call."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self, messages: list[Message], request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("provider outage")
        prompt = messages[-1].content.split("\n", 1)[0]
        return ModelResponse(text=f"answer {self.calls} to {prompt}", usage=Usage(10, 5))


def pipeline(fn: Scripted) -> Pipeline:
    model = FunctionModel(fn, name="scripted")
    return Pipeline([Agent(n, model=model, instructions=n) for n in ("a", "b", "c")], name="three")


async def test_a_durable_run_is_stored_with_its_journal(store: Store) -> None:
    result = await run_durable(pipeline(Scripted()), "topic", store=store)
    record = await store.get_run(result.run_id)
    assert record.status == "succeeded" and record.output == result.output
    assert record.usage is not None and record.usage["requests"] == 3
    journal = await store.load_journal(result.run_id)
    assert sorted(journal) == ["three/0:a/llm#1", "three/1:b/llm#1", "three/2:c/llm#1"]
    assert all(e.kind == "model" and e.attempt == 1 for e in journal.values())
    events = await store.list_events(result.run_id)
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_resume_replays_completed_calls_and_matches_an_uninterrupted_run(store: Store) -> None:
    reference = await run_durable(pipeline(Scripted()), "topic", store=store)

    failing = Scripted(fail_on=3)
    flow = pipeline(failing)
    with pytest.raises(Exception, match="provider outage"):
        await run_durable(flow, "topic", store=store, run_id=(run_id := uuid.uuid4().hex))
    assert (await store.get_run(run_id)).status == "failed"
    assert failing.calls == 3

    failing.fail_on = None
    failing.calls = 2  # the model's own counter continues as if nothing had happened
    resumed = await resume_run(run_id, store=store, flow=flow)
    assert failing.calls == 3, "only the unfinished call is made again"
    assert resumed.output == reference.output
    assert resumed.usage == reference.usage and resumed.cost == reference.cost
    record = await store.get_run(run_id)
    assert record.status == "succeeded" and record.attempt == 2


async def test_resuming_twice_after_success_is_refused(store: Store) -> None:
    result = await run_durable(pipeline(Scripted()), "topic", store=store)
    with pytest.raises(RunStateError, match="'succeeded'"):
        await resume_run(result.run_id, store=store, flow=pipeline(Scripted()))
    with pytest.raises(RunNotFoundError):
        await resume_run(uuid.uuid4().hex, store=store, flow=pipeline(Scripted()))


async def test_a_run_driven_here_cannot_be_resumed_concurrently(store: Store) -> None:
    gate = asyncio.Event()

    async def slow(messages: list[Message], request: ModelRequest) -> str:
        await gate.wait()
        return "done"

    flow = Agent("slow", model=FunctionModel(slow))
    run_id = uuid.uuid4().hex
    task = asyncio.create_task(run_durable(flow, "x", store=store, run_id=run_id))
    for _ in range(100):
        await asyncio.sleep(0.01)
        try:
            await store.get_run(run_id)
            break
        except RunNotFoundError:
            continue
    with pytest.raises(RunLeasedError, match="live process"):
        await resume_run(run_id, store=store, flow=flow)
    gate.set()
    assert (await task).output == "done"
    assert (await store.get_run(run_id)).attempt == 1


async def test_a_lost_lease_stops_the_old_driver(store: Store) -> None:
    """Cancelling a run from elsewhere stops its driver at the next heartbeat."""
    started = asyncio.Event()

    async def forever(messages: list[Message], request: ModelRequest) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    run_id = uuid.uuid4().hex
    task = asyncio.create_task(
        run_durable(
            Agent("f", model=FunctionModel(forever)), "x", store=store, run_id=run_id, lease_seconds=0.3
        )
    )
    await started.wait()
    await store.cancel_run(run_id)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert (await store.get_run(run_id)).status == "cancelled"


def tool_agent(calls: list[str], *, idempotent: bool) -> Agent:
    @tool(idempotent=idempotent)
    def send_email(to: str) -> str:
        """Send an email."""
        calls.append(to)
        return f"sent to {to}"

    def model(messages: list[Message], request: ModelRequest) -> ModelResponse:
        if messages[-1].role == "tool":
            return ModelResponse(text=f"done: {messages[-1].content}")
        return ModelResponse(tool_calls=[ToolCall("c1", "send_email", json.dumps({"to": "bob"}))])

    return Agent("mailer", model=FunctionModel(model), tools=[send_email])


async def _crash_inside_tool(store: Store, agent: Agent, run_id: str) -> None:
    """Simulate a process that died while the tool ran: drop the run mid-tool, mark it orphaned."""
    from sqlalchemy import update

    from cadenza.store.tables import runs

    original = agent.tools["send_email"].fn
    entered = asyncio.Event()

    async def hang(**kwargs: Any) -> str:
        entered.set()
        await asyncio.sleep(30)
        return "unreachable"

    agent.tools["send_email"].fn = hang  # type: ignore[assignment]
    agent.tools["send_email"].is_async = True
    task = asyncio.create_task(run_durable(agent, "mail bob", store=store, run_id=run_id))
    await entered.wait()
    await store.writer.flush()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    agent.tools["send_email"].fn = original
    agent.tools["send_email"].is_async = False
    # As if the process had been killed: still "running", owned by a dead process.
    async with store.engine.begin() as conn:
        await conn.execute(
            update(runs).where(runs.c.id == run_id).values(status="running", lease_owner="elsewhere:1:dead")
        )


async def test_a_non_idempotent_tool_in_flight_at_a_crash_is_surfaced(store: Store) -> None:
    calls: list[str] = []
    agent = tool_agent(calls, idempotent=False)
    run_id = uuid.uuid4().hex
    await _crash_inside_tool(store, agent, run_id)
    journal = await store.load_journal(run_id)
    assert journal["mailer/tool#1:send_email"].kind == "tool_started"

    with pytest.raises(InFlightToolError, match="not idempotent"):
        await resume_run(run_id, store=store, flow=agent)
    assert calls == [], "the unsafe call is not repeated"
    record = await store.get_run(run_id)
    assert record.status == "needs_attention"
    events = await store.list_events(run_id)
    assert events[-1]["type"] == "run_failed" and events[-1]["status"] == "needs_attention"

    result = await resume_run(run_id, store=store, flow=agent, retry_in_flight=True)
    assert calls == ["bob"] and result.output == "done: sent to bob"


async def test_an_idempotent_tool_in_flight_at_a_crash_is_simply_repeated(store: Store) -> None:
    calls: list[str] = []
    agent = tool_agent(calls, idempotent=True)
    run_id = uuid.uuid4().hex
    await _crash_inside_tool(store, agent, run_id)
    assert "mailer/tool#1:send_email" not in await store.load_journal(run_id)
    result = await resume_run(run_id, store=store, flow=agent)
    assert calls == ["bob"] and result.output == "done: sent to bob"


async def test_completed_tool_results_are_replayed_not_rerun(store: Store) -> None:
    calls: list[str] = []
    agent = tool_agent(calls, idempotent=False)
    first = await run_durable(agent, "mail bob", store=store)
    journal = await store.load_journal(first.run_id)
    assert journal["mailer/tool#1:send_email"].kind == "tool"
    # Replay the whole run from its journal in a fresh run that copies it (fork at the end).
    from cadenza.durable import fork_run

    forked = await fork_run(first.run_id, from_path="mailer/llm#2", store=store, flow=agent)
    assert calls == ["bob"], "the tool ran once; the fork replayed its result"
    assert forked.output == first.output


async def test_concurrent_runs_share_the_sqlite_file_without_locking_errors(sqlite_url: str) -> None:
    stores = [await Store.open(sqlite_url) for _ in range(3)]
    try:
        runs = [run_durable(pipeline(Scripted()), f"topic {i}", store=stores[i % 3]) for i in range(60)]
        results = await asyncio.gather(*runs)
        assert {r.status for r in results} == {"succeeded"}
        sizes = [len(await stores[0].load_journal(r.run_id)) for r in results]
        assert sizes == [3] * 60
    finally:
        for s in stores:
            await s.close()


def test_processes_sharing_one_sqlite_file_never_see_database_is_locked(sqlite_url: str) -> None:
    """Three processes, each with 20 concurrent durable runs, on one SQLite file."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = (
        "import asyncio, sys\n"
        "from cadenza import Agent, FunctionModel, Pipeline\n"
        "from cadenza.durable import run_durable\n"
        "from cadenza.store import Store\n"
        "model = FunctionModel(lambda messages, request: 'ok ' + messages[-1].content[:20])\n"
        "flow = Pipeline([Agent(n, model=model) for n in 'abc'], name='p')\n"
        "async def main():\n"
        "    store = await Store.open(sys.argv[1])\n"
        "    try:\n"
        "        for _ in range(3):\n"
        "            runs = [run_durable(flow, f't{i}', store=store) for i in range(20)]\n"
        "            results = await asyncio.gather(*runs)\n"
        "            assert all(r.status == 'succeeded' for r in results)\n"
        "    finally:\n"
        "        await store.close()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, sqlite_url], env=env, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    assert not any("locked" in e for e in errors)

    async def count() -> tuple[int, int]:
        store = await Store.open(sqlite_url)
        try:
            runs = await store.list_runs(limit=1000)
            sizes = [len(await store.load_journal(r.id)) for r in runs]
            return len(runs), sum(sizes)
        finally:
            await store.close()

    assert asyncio.run(count()) == (180, 540)


async def test_replayed_calls_count_against_the_budget_of_the_resumed_run(store: Store) -> None:
    from cadenza import Budget
    from cadenza.errors import BudgetExceeded

    failing = Scripted(fail_on=3)
    flow = pipeline(failing)
    run_id = uuid.uuid4().hex
    with pytest.raises(Exception, match="provider outage"):
        await run_durable(flow, "topic", store=store, run_id=run_id)
    failing.fail_on = None
    # Two calls are journaled: with room for two calls in all, the third one is refused.
    with pytest.raises(BudgetExceeded, match="max_model_calls"):
        await resume_run(run_id, store=store, flow=flow, budget=Budget(max_model_calls=2))
    assert failing.calls == 3, "no request was sent"
    result = await resume_run(run_id, store=store, flow=flow, budget=Budget(max_model_calls=3))
    assert result.status == "succeeded" and failing.calls == 4
