"""Runs started over HTTP, executing in this process through the durable driver.

``start`` returns once the run's row exists (so the 202 answer's id can be read at once) while
the run goes on in a task. Events reach the ``Broker`` for live subscribers as they happen and
the store through the driver's recorder. A shutting-down server does not record its unfinished
runs as cancelled: they stay ``running`` under a lease of a dead process and the next start (of
any instance) resumes them from their journal.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast

from cadenza.api.broker import Broker
from cadenza.api.errors import Conflict
from cadenza.store import RunRecord, Store
from cadenza.types.results import Task
from cadenza.workflows.workflow import Workflow

if TYPE_CHECKING:
    from cadenza.api.catalog import WorkflowRecord

log = logging.getLogger("cadenza.api.runs")
FLOW_CACHE_SIZE = 256
WORKFLOW_TTL = 2.0


class _TeamStore:
    """The store as one run's driver sees it: new runs get the caller's team; creation and
    takeover are reported to the waiting request; a shutdown does not mark the run cancelled."""

    def __init__(
        self, store: Store, team: str | None, ready: asyncio.Future[RunRecord], service: RunService
    ) -> None:
        self._store = store
        self._team = team
        self._ready = ready
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def create_run(self, **kwargs: Any) -> RunRecord:
        record = await self._store.create_run(**kwargs, team=self._team)
        if not self._ready.done():
            self._ready.set_result(record)
        return record

    async def take_run(self, *args: Any, **kwargs: Any) -> RunRecord:
        record = await self._store.take_run(*args, **kwargs)
        if not self._ready.done():
            self._ready.set_result(record)
        return record

    async def finish_run(self, run_id: str, attempt: int, status: str, **kwargs: Any) -> bool:
        if self._service.stopping and status == "cancelled":
            return False  # left running: recovered by the next start
        return await self._store.finish_run(run_id, attempt, status, **kwargs)


class RunService:
    """Starts, resumes and cancels runs; keeps the tasks of the runs this process drives."""

    def __init__(self, store: Store, broker: Broker) -> None:
        self.store = store
        self.broker = broker
        self.stopping = False
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        # Starting a run looks its workflow up; a short-lived cache keeps that off the database.
        self._workflows: dict[str, tuple[float, WorkflowRecord]] = {}
        self._flows: OrderedDict[tuple[str, int], tuple[Workflow, dict[str, Any]]] = OrderedDict()

    def cached_flow(self, key: tuple[str, int]) -> tuple[Workflow, dict[str, Any]] | None:
        flow = self._flows.get(key)
        if flow is not None:
            self._flows.move_to_end(key)
        return flow

    def cache_flow(self, key: tuple[str, int], flow: tuple[Workflow, dict[str, Any]]) -> None:
        self._flows[key] = flow
        if len(self._flows) > FLOW_CACHE_SIZE:
            self._flows.popitem(last=False)

    def recent_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        """A workflow record looked up less than ``WORKFLOW_TTL`` seconds ago (None otherwise)."""
        entry = self._workflows.get(workflow_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def remember_workflow(self, workflow_id: str, record: WorkflowRecord) -> None:
        if len(self._workflows) > FLOW_CACHE_SIZE:
            self._workflows.clear()
        self._workflows[workflow_id] = (time.monotonic() + WORKFLOW_TTL, record)

    def forget_workflow(self, workflow_id: str) -> None:
        """Drop a deleted or re-versioned workflow at once (other instances: after the TTL)."""
        self._workflows.pop(workflow_id, None)

    async def start(
        self, workflow: Workflow, task: Task, *, team: str, flow_ref: dict[str, Any]
    ) -> RunRecord:
        """Create the run and start driving it; returns once its row is committed."""
        from cadenza.durable import run_durable

        run_id = uuid.uuid4().hex
        ready: asyncio.Future[RunRecord] = asyncio.get_running_loop().create_future()
        db = cast(Store, _TeamStore(self.store, team, ready, self))
        sink = self.broker.open(run_id, 0)
        coro = run_durable(
            workflow.step,
            task,
            store=db,
            run_id=run_id,
            flow_ref=flow_ref,
            workflow=workflow.name,
            budget=workflow.budget,
            sinks=[sink],
        )
        return await self._launch(run_id, coro, ready)

    async def resume(self, record: RunRecord) -> RunRecord:
        """Take the run over and continue it from its journal; returns once it is taken."""
        from cadenza.durable import resume_run

        if record.id in self._tasks:
            raise Conflict(f"run {record.id} is being driven by this server")
        last = await self.store.next_event_seq(record.id) - 1
        ready: asyncio.Future[RunRecord] = asyncio.get_running_loop().create_future()
        db = cast(Store, _TeamStore(self.store, record.team, ready, self))
        sink = self.broker.open(record.id, last)
        return await self._launch(record.id, resume_run(record.id, store=db, sinks=[sink]), ready)

    async def _launch(self, run_id: str, coro: Any, ready: asyncio.Future[RunRecord]) -> RunRecord:
        task = asyncio.get_running_loop().create_task(self._drive(run_id, coro, ready))
        self._tasks[run_id] = task
        waiting: list[asyncio.Future[Any]] = [ready, task]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            return ready.result()
        # The driver stopped before the run was created or taken: its error is the answer.
        await task
        raise Conflict(f"run {run_id} could not be started")

    async def _drive(self, run_id: str, coro: Any, ready: asyncio.Future[RunRecord]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            if not self.stopping:
                raise
        except Exception as exc:
            if not ready.done():
                raise  # the waiting request reports it
            # The run's status and error are in the store; the request that started it has returned.
            log.debug("run %s ended with %s: %s", run_id, type(exc).__name__, exc)
        finally:
            self._tasks.pop(run_id, None)
            self.broker.close(run_id)

    async def cancel(self, run_id: str) -> RunRecord:
        record = await self.store.cancel_run(run_id)
        task = self._tasks.get(record.id)
        if task is not None:
            task.cancel()
        return record

    async def shutdown(self, grace_seconds: float) -> None:
        """Let running runs finish for ``grace_seconds``; leave the rest to be recovered."""
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=grace_seconds)
        self.stopping = True
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=5)
