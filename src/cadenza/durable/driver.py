"""The durable run driver: start, resume, recover and fork runs whose every call is journaled.

A run has one driver at a time. Taking a run (start, resume, recovery) bumps its attempt under a
lease; the driver renews the lease in the background and stops the run if it loses it (another
process took over, or someone cancelled it). The journal's writes carry the attempt, so a driver
that lost its run cannot write into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cadenza.durable.conversations import finish_in_conversation, start_in_conversation
from cadenza.durable.errors import ApprovalRequired, DurableRunError
from cadenza.durable.flows import load_flow
from cadenza.durable.journal import Journal
from cadenza.durable.recorder import EventRecorder
from cadenza.engine.context import RunState, Sink
from cadenza.engine.step import Step, _drive, _status_of
from cadenza.errors import BudgetExceeded
from cadenza.store.lease import process_owner
from cadenza.store.store import DEFAULT_LEASE_SECONDS, Store, conversation_key
from cadenza.types.results import RunResult, Task
from cadenza.types.usage import Usage

if TYPE_CHECKING:
    from cadenza.store.records import JournalEntry, RunRecord

log = logging.getLogger("cadenza.durable")


async def run_durable(
    flow: Step,
    task: str | Task,
    *,
    store: Store | None = None,
    run_id: str | None = None,
    flow_ref: dict[str, Any] | None = None,
    workflow: str | None = None,
    conversation: str | None = None,
    state: dict[str, Any] | None = None,
    budget: Any = None,
    sinks: list[Sink] | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    streaming: bool = False,
) -> RunResult:
    """Run ``flow`` durably: stored, journaled, resumable after a crash, able to pause.

    ``flow_ref`` (see ``cadenza.durable.flows``) lets another process rebuild the flow to resume
    the run; ``workflow`` is the name the run is stored, listed, costed and budgeted under (a
    workflow file's ``name:``; default the flow's own name); ``conversation`` continues a thread
    (its messages and context seed this run). Without ``store`` the default store is opened
    (``$CADENZA_DATABASE_URL`` or the SQLite file).
    """
    async with _store_or_default(store) as db:
        the_task = Task.of(task)
        if conversation is not None:
            the_task, state = await start_in_conversation(db, conversation, the_task, state)
        key = _new_run_id(run_id)
        record = await db.create_run(
            run_id=key,
            workflow=workflow or flow.name,
            task=task_to_dict(the_task, state),
            owner=process_owner(),
            flow_ref=flow_ref,
            lease_seconds=lease_seconds,
            conversation_id=None if conversation is None else conversation_key(conversation),
        )
        return await _execute(
            db,
            flow,
            record,
            {},
            budget=budget,
            sinks=sinks,
            lease_seconds=lease_seconds,
            conversation=conversation,
            streaming=streaming,
        )


async def resume_run(
    run_id: str,
    *,
    store: Store | None = None,
    flow: Step | None = None,
    budget: Any = None,
    sinks: list[Sink] | None = None,
    retry_in_flight: bool = False,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> RunResult:
    """Take over a run and continue it: completed calls replay from the journal, the rest runs.

    Refused (``RunLeasedError``) while a live process drives it; ``RunStateError`` for a run
    that finished or waits for a decision. ``retry_in_flight`` repeats non-idempotent tool
    calls that were in flight at a crash (after a human checked that it is safe).
    """
    async with _store_or_default(store) as db:
        record = await db.get_run(run_id)
        if flow is None:
            flow, file_budget = load_flow(record.flow_ref)
            budget = budget if budget is not None else file_budget
        record = await db.take_run(record.id, process_owner(), lease_seconds=lease_seconds)
        entries = await db.load_journal(record.id)
        if retry_in_flight:
            entries = {path: e for path, e in entries.items() if e.kind != "tool_started"}
        return await _execute(
            db,
            flow,
            record,
            entries,
            budget=budget,
            sinks=sinks,
            lease_seconds=lease_seconds,
            conversation=record.conversation_id,
        )


async def fork_run(
    run_id: str,
    *,
    from_path: str,
    store: Store | None = None,
    task: str | Task | None = None,
    model: str | None = None,
    flow: Step | None = None,
    budget: Any = None,
    sinks: list[Sink] | None = None,
) -> RunResult:
    """Re-run a run from the step at ``from_path`` as a new run (time travel for debugging).

    Journal entries written before that step are reused, so everything before it replays
    exactly; the step and everything after run again — with a changed ``task`` or ``model``.
    """
    async with _store_or_default(store) as db:
        source = await db.get_run(run_id)
        entries = await db.load_journal(source.id)
        under = [e.seq for e in entries.values() if e.path == from_path or e.path.startswith(f"{from_path}/")]
        if not under:
            known = sorted({p.rsplit("/", 1)[0] for p in entries})
            raise DurableRunError(
                f"run {source.id} has no journaled call at or under {from_path!r}; "
                f"step paths with calls: {', '.join(known) or 'none'}"
            )
        ref = dict(source.flow_ref or {})
        if model:
            ref["model"] = model
        if flow is None:
            flow, file_budget = load_flow(ref or None, model=model)
            budget = budget if budget is not None else file_budget
        stored_task = dict(source.task)
        if task is not None:
            replaced = Task.of(task)
            stored_task.update(
                description=replaced.description,
                context=replaced.context,
                expected_output=replaced.expected_output,
            )
        record = await db.create_run(
            run_id=uuid.uuid4().hex,
            workflow=source.workflow,
            task=stored_task,
            owner=process_owner(),
            flow_ref=ref or None,
            parent_run_id=source.id,
            forked_at=from_path,
        )
        cut = min(under)
        copied = await db.copy_journal(
            (e for e in entries.values() if e.seq < cut and e.kind != "tool_started"), record.id
        )
        return await _execute(
            db,
            flow,
            record,
            copied,
            budget=budget,
            sinks=sinks,
            lease_seconds=DEFAULT_LEASE_SECONDS,
            conversation=None,
        )


async def recover_runs(store: Store, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> dict[str, str]:
    """Resume every run left ``running`` by a dead process; returns run id -> final status.

    Services and workers call this on start. A run that cannot be rebuilt or taken is reported
    with its error instead of stopping the others.
    """
    outcome: dict[str, str] = {}

    async def one(record: RunRecord) -> None:
        try:
            result = await resume_run(record.id, store=store, lease_seconds=lease_seconds)
            outcome[record.id] = result.status
        except Exception as exc:
            status = getattr(exc, "run_status", None) or f"error: {exc}"
            outcome[record.id] = str(status)

    await asyncio.gather(*(one(r) for r in await store.orphaned_runs()))
    return outcome


async def _execute(
    store: Store,
    flow: Step,
    record: RunRecord,
    entries: dict[str, JournalEntry],
    *,
    budget: Any,
    sinks: list[Sink] | None,
    lease_seconds: float,
    conversation: str | None,
    streaming: bool = False,
) -> RunResult:
    """Drive one attempt of a run to its end and record how it ended."""
    task, state = task_from_dict(record.task)
    try:
        budget = await _period_budget(store, budget, record, resumed=bool(entries) or record.attempt > 1)
    except BaseException as exc:
        if isinstance(exc, BudgetExceeded) and exc.result is None:
            exc.result = RunResult(
                record.id, "budget_exceeded", None, Usage(), Decimal(0), 0.0, [], error=str(exc)
            )
        await asyncio.shield(_record_end(store, record, exc))
        raise
    last_event = await store.next_event_seq(record.id) - 1 if record.attempt > 1 or entries else 0
    recorder = EventRecorder(store.writer, record.id, record.attempt, record.workflow, last_event)
    run = RunState(
        record.id,
        task,
        record.workflow,
        state=state,
        sinks=[recorder, *(sinks or ())],
        budget=budget,
        streaming=streaming,
    )
    run.journal = Journal(store.writer, record.id, record.attempt, entries)
    driver = asyncio.current_task()
    heartbeat = asyncio.create_task(_keep_lease(store, record, lease_seconds, driver))
    try:
        result = await _drive(flow, run)
    except BaseException as exc:
        heartbeat.cancel()
        await asyncio.shield(_record_end(store, record, exc))
        raise
    heartbeat.cancel()
    kept = await asyncio.shield(
        store.finish_run(
            record.id,
            record.attempt,
            "succeeded",
            output=jsonable(result.output),
            usage=dataclasses.asdict(result.usage),
            cost=str(result.cost),
        )
    )
    if not kept:
        log.warning(
            "run %s finished, but attempt %d no longer drives it (cancelled or taken over); "
            "its final status was not recorded",
            record.id,
            record.attempt,
        )
    if conversation is not None:
        await finish_in_conversation(store, conversation, record, task, result, run.state)
    return result


async def _period_budget(store: Store, budget: Any, record: RunRecord, *, resumed: bool) -> Any:
    """A budget with a ``period`` becomes what the workflow's period has left (read from the
    ledger now, after this process's queued ledger rows are committed); ``BudgetExceeded`` when
    the period is spent. A resumed run's own calls are not counted: they replay and are charged
    again as they do. Runs of the HTTP service count their own team's runs only."""
    if getattr(budget, "period", None) is None:
        return budget
    from cadenza.observability.ledger import period_budget

    await store.writer.flush()
    return await period_budget(
        store,
        budget,
        workflow=record.workflow,
        exclude_run=record.id if resumed else None,
        team=record.team,
    )


async def _record_end(store: Store, record: RunRecord, exc: BaseException) -> None:
    status = _status_of(exc)
    waiting = None
    if isinstance(exc, ApprovalRequired):
        waiting = {"path": exc.path, "prompt": exc.prompt, "data": _preview(exc.data)}
    try:
        await store.finish_run(
            record.id,
            record.attempt,
            status,
            error=str(exc) or type(exc).__name__,
            error_type=type(exc).__name__,
            waiting=waiting,
        )
    except Exception as db_error:
        log.error("run %s ended with %s but its status could not be stored: %s", record.id, status, db_error)


async def _keep_lease(store: Store, record: RunRecord, lease_seconds: float, driver: Any) -> None:
    """Renew the lease every third of its life; cancel the run when the lease is lost."""
    owner = record.lease_owner or process_owner()
    while True:
        await asyncio.sleep(lease_seconds / 3)
        try:
            kept = await store.renew_lease(record.id, record.attempt, owner, lease_seconds)
        except Exception as exc:
            log.warning("run %s: lease renewal failed (%s); retrying", record.id, exc)
            continue
        if not kept:
            log.warning(
                "run %s: lease lost (cancelled or taken over); stopping attempt %d", record.id, record.attempt
            )
            if driver is not None:
                driver.cancel()
            return


def task_to_dict(task: Task, state: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"description": task.description}
    if task.context:
        data["context"] = jsonable(task.context)
    if task.expected_output is not None:
        data["expected_output"] = task.expected_output
    if state:
        data["state"] = jsonable(state)
    return data


def task_from_dict(data: dict[str, Any]) -> tuple[Task, dict[str, Any] | None]:
    task = Task(data["description"], dict(data.get("context") or {}), data.get("expected_output"))
    state = data.get("state")
    return task, (dict(state) if state else None)


def jsonable(value: Any) -> Any:
    """JSON-able data of any output (pydantic models, dataclasses, Decimals)."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def _preview(value: Any, limit: int = 4000) -> Any:
    if value is None:
        return None
    from cadenza.agents.agent import to_text

    text = to_text(value)
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


def _new_run_id(run_id: str | None) -> str:
    if run_id is None:
        return uuid.uuid4().hex
    try:
        return uuid.UUID(run_id).hex
    except ValueError:
        raise DurableRunError(f"a durable run's id must be a UUID, got {run_id!r}") from None


@contextlib.asynccontextmanager
async def _store_or_default(store: Store | None) -> Any:
    if store is not None:
        yield store
        return
    opened = await Store.open()
    try:
        yield opened
    finally:
        await opened.close()
