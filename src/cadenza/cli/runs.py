"""``cadenza runs``: list, inspect, resume, cancel, approve, reject, recover and fork durable runs.

Every command takes ``--json``. Bad input — an unknown run, a run in the wrong state (resuming a
finished run, approving one that is not waiting), a run another live process drives, an
unreachable database, a schema newer than the code — prints a clear error, changes nothing and
exits with 2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cadenza.cli.db import JsonOpt, UrlOpt, database_url, run_input_errors, stderr, store_errors, with_store
from cadenza.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_WAITING

if TYPE_CHECKING:
    from cadenza.cli.execute import RunOptions
    from cadenza.engine.context import Sink
    from cadenza.store import RunRecord, Store
    from cadenza.types.results import RunResult
    from cadenza.workflows.workflow import Workflow

T = TypeVar("T")

runs_app = typer.Typer(
    help="Durable runs: list, show, resume, cancel, approve, reject.", no_args_is_help=True
)

IdArg = Annotated[str, typer.Argument(help="The run's id (as `cadenza runs list` shows it).", metavar="ID")]


def _out() -> Console:
    return Console(highlight=False)


# Listing and inspecting --------------------------------------------------------------------------


@runs_app.command("list")
def list_runs(
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="Only runs with this status.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="At most this many runs.")
    ] = 20,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The most recent runs, newest first."""
    from cadenza.cli.render import print_json

    with store_errors(stderr(), json_output):
        records = with_store(url, lambda store: store.list_runs(status=status, limit=limit))
    if json_output:
        print_json({"runs": [_summary(r) for r in records]})
        return
    if not records:
        stderr().print("no runs yet: `cadenza run FLOW.yaml -i ...` starts one")
        return
    table = Table(box=None, header_style="bold")
    table.add_column("id", no_wrap=True, min_width=32)
    for column in ("workflow", "status", "attempt", "started", "input"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.id,
            r.workflow,
            _status_text(r.status),
            str(r.attempt),
            _ago(r.created_at),
            _short(r.task.get("description", ""), 48),
        )
    _out().print(table)


@runs_app.command()
def show(
    run_id: IdArg,
    events: Annotated[bool, typer.Option("--events", help="Include the run's stored events.")] = False,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """One run: status, input, output or error, what it waits for, its journal and events."""
    from cadenza.cli.render import print_json, print_output

    async def load(store: Store) -> tuple[RunRecord, int, list[dict[str, Any]], list[dict[str, Any]]]:
        from cadenza.store.task_records import run_tasks

        record = await store.get_run(run_id)
        entries, _ = await store.journal_size(record.id)
        stored = await store.list_events(record.id) if events else []
        return record, entries, stored, await run_tasks(store, record.id)

    with store_errors(stderr(), json_output):
        record, entries, stored_events, tasks = with_store(url, load)
    if json_output:
        document = {**record.to_dict(), "journal_entries": entries, "tasks": _jsonable(tasks)}
        document.pop("flow_ref", None)
        if events:
            document["events"] = stored_events
        print_json(document)
        return
    err = stderr()
    err.print(
        f"[bold]{record.id}[/]  {record.workflow}  {_status_text(record.status)}  attempt {record.attempt}"
    )
    err.print(f"  input: {_short(record.task.get('description', ''), 200)}")
    err.print(
        f"  started {_ago(record.created_at)}, updated {_ago(record.updated_at)}; {entries} journal entries"
    )
    if record.parent_run_id:
        err.print(f"  forked from {record.parent_run_id} at {record.forked_at}")
    if record.cost is not None and record.usage:
        err.print(
            f"  {record.usage.get('requests', 0)} model call(s), "
            f"{record.usage.get('input_tokens', 0) + record.usage.get('output_tokens', 0):,} tokens, "
            f"${record.cost}"
        )
    if record.waiting:
        err.print(f"[yellow]  waiting at {record.waiting['path']}: {record.waiting['prompt']}[/]")
        if record.waiting.get("data") is not None:
            err.print(f"  to approve:\n{record.waiting['data']}")
        err.print(
            f"  decide with: cadenza runs approve {record.id}  |  cadenza runs reject {record.id} -c REASON"
        )
    if record.error and record.status != "succeeded":
        err.print(f"[red]  {record.error_type}: {record.error}[/]")
    for task in tasks:
        err.print(f"  task {task['agent']:<16} {_status_text(task['status'])}  {task['path']}")
    for event in stored_events:
        err.print(f"  [dim]{event['seq']:>4}[/] {event['type']:<14} {event['path']}")
    if record.status == "succeeded":
        print_output(record.output)


# Driving -------------------------------------------------------------------------------------------


@runs_app.command()
def resume(
    run_id: IdArg,
    retry_in_flight: Annotated[
        bool, typer.Option("--retry-in-flight", help="Repeat non-idempotent tool calls that were in flight.")
    ] = False,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Continue a run that was interrupted: journaled calls are replayed, the rest runs."""
    from cadenza.durable import resume_run

    _drive(
        url,
        json_output,
        lambda store: _audited_drive(
            store,
            resume_run(run_id, store=store, retry_in_flight=retry_in_flight),
            "resume_run",
            f"cadenza runs resume {run_id}" + (" --retry-in-flight" if retry_in_flight else ""),
            run_id,
        ),
    )


@runs_app.command()
def cancel(run_id: IdArg, url: UrlOpt = None, json_output: JsonOpt = False) -> None:
    """Cancel a run that has not finished; a live driver stops at its next heartbeat."""
    from cadenza.cli.render import print_json

    with store_errors(stderr(), json_output):
        record = with_store(
            url,
            lambda store: _audited(
                store,
                store.cancel_run(run_id),
                action="cancel_run",
                command=f"cadenza runs cancel {run_id}",
                target=f"run:{run_id}",
                detail=lambda r: {"run_id": r.id, "run_status": r.status},
            ),
        )
    if json_output:
        print_json({"id": record.id, "status": record.status})
    else:
        stderr().print(f"[magenta]■[/] run {record.id} cancelled")


@runs_app.command()
def approve(
    run_id: IdArg,
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why (kept with the decision).")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: the current user).")] = None,
    no_resume: Annotated[bool, typer.Option("--no-resume", help="Record the decision only.")] = False,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Approve a waiting run and continue it from its approval step."""
    _decide(run_id, True, comment, by, no_resume, url, json_output)


@runs_app.command()
def reject(
    run_id: IdArg,
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why it is rejected.")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: the current user).")] = None,
    no_resume: Annotated[bool, typer.Option("--no-resume", help="Record the decision only.")] = False,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Reject a waiting run: it ends with status ``rejected`` and the comment."""
    _decide(run_id, False, comment, by, no_resume, url, json_output)


@runs_app.command()
def recover(url: UrlOpt = None, json_output: JsonOpt = False) -> None:
    """Resume every run left ``running`` by a process that died."""
    from cadenza.cli.render import print_json
    from cadenza.durable import recover_runs

    with store_errors(stderr(), json_output):
        from cadenza.config import get_settings

        get_settings().apply_prices()  # recovered runs are priced like `cadenza run`
        outcome = with_store(
            url,
            lambda store: _audited(
                store,
                recover_runs(store),
                action="recover_runs",
                command="cadenza runs recover",
                target=None,
                detail=lambda found: {"recovered": dict(found)},
            ),
        )
    if json_output:
        print_json({"recovered": outcome})
        return
    if not outcome:
        stderr().print("no orphaned runs")
    for run, status in outcome.items():
        stderr().print(f"{run}: {_status_text(status)}")


@runs_app.command()
def fork(
    run_id: IdArg,
    from_path: Annotated[
        str, typer.Option("--from", help="The step path to re-run from (see `runs show --events`).")
    ],
    input: Annotated[str | None, typer.Option("--input", "-i", help="A new task text.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Re-run with this model for every agent.")
    ] = None,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Re-run a run from a step as a new run, reusing its journal before that step."""
    from cadenza.durable import fork_run

    _drive(
        url,
        json_output,
        lambda store: _audited_drive(
            store,
            fork_run(run_id, from_path=from_path, store=store, task=input, model=model),
            "fork_run",
            f"cadenza runs fork {run_id} --from {from_path}" + (f" --model {model}" if model else ""),
            run_id,
        ),
    )


def _decide(
    run_id: str,
    approved: bool,
    comment: str,
    by: str | None,
    no_resume: bool,
    url: str | None,
    json_output: bool,
) -> None:
    from cadenza.cli.render import print_json
    from cadenza.durable import resume_run

    who = by or _user()
    action = "approve_run" if approved else "reject_run"
    verb = "approve" if approved else "reject"
    command = f"cadenza runs {verb} {run_id}" + (" --no-resume" if no_resume else "")
    if no_resume:
        with store_errors(stderr(), json_output):
            record = with_store(
                url,
                lambda store: _audited(
                    store,
                    store.decide(run_id, approved=approved, comment=comment, by=who),
                    action=action,
                    command=command,
                    target=f"run:{run_id}",
                    detail=lambda r: {"run_id": r.id, "approved": approved, "comment": comment, "by": who},
                ),
            )
        if json_output:
            print_json({"id": record.id, "status": record.status, "approved": approved})
        else:
            stderr().print(f"decision recorded; continue with `cadenza runs resume {record.id}`")
        return

    async def decide_and_resume(store: Store) -> RunResult:
        record = await store.decide(run_id, approved=approved, comment=comment, by=who)
        return await resume_run(record.id, store=store)

    _drive(
        url,
        json_output,
        lambda store: _audited_drive(
            store, decide_and_resume(store), action, command, run_id, {"approved": approved, "by": who}
        ),
    )


async def _audited(store: Store, work: Awaitable[T], **how: Any) -> T:
    from cadenza.cli.audited import audited

    return await audited(store, work, **how)


async def _audited_drive(
    store: Store,
    work: Awaitable[RunResult],
    action: str,
    command: str,
    run_id: str,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """A command that drives a run, audited: the row says how the run ended (see ``audited``)."""
    return await _audited(
        store,
        work,
        action=action,
        command=command,
        target=f"run:{run_id}",
        detail=lambda r: {"run_id": r.run_id, "run_status": r.status, **(extra or {})},
        drives=True,
    )


def _drive(url: str | None, json_output: bool, work: Callable[[Store], Awaitable[RunResult]]) -> None:
    """Run ``work`` (a resume, a fork, a decision) and report how the run ended."""
    from cadenza.cli.render import error_document, print_json, print_output

    err = stderr()
    result: RunResult | None = None
    failure: BaseException | None = None
    with store_errors(err, json_output):
        from cadenza.config import get_settings

        get_settings().apply_prices()  # a resumed or forked run is priced like `cadenza run`
        try:
            result = with_store(url, work)
        except Exception as exc:
            if isinstance(exc, run_input_errors()):
                raise
            failure = exc
        except KeyboardInterrupt:
            failure = asyncio.CancelledError("interrupted")
    if result is not None:
        if json_output:
            print_json(
                {
                    "id": result.run_id,
                    "status": result.status,
                    "output": _jsonable(result.output),
                    "usage": _jsonable(result.usage),
                    "cost": str(result.cost),
                }
            )
        else:
            print_output(result.output)
            err.print(f"[green]✓ succeeded[/] run {result.run_id}")
        return
    assert failure is not None
    status = str(
        getattr(failure, "run_status", None)
        or ("cancelled" if isinstance(failure, asyncio.CancelledError) else "failed")
    )
    if json_output:
        print_json({"status": status, "error": error_document(failure)})
    else:
        err.print(f"{_status_text(status)}: {failure}")
    if status == "waiting":
        raise typer.Exit(EXIT_WAITING)
    raise typer.Exit(EXIT_OK if status == "rejected" else EXIT_FAILED)


# `cadenza run`, durable ----------------------------------------------------------------------------


async def execute_durably(workflow: Workflow, task: str, options: RunOptions, sink: Sink) -> RunResult:
    """Run a workflow file durably for ``cadenza run``: stored, journaled, resumable by id.

    Events go to ``sink`` (the live view) as they happen; model text streams.
    """
    from cadenza.durable.driver import run_durable
    from cadenza.durable.flows import workflow_file_ref
    from cadenza.store import Store

    store = await Store.open(database_url(getattr(options, "database_url", None)))
    try:
        ref = workflow_file_ref(workflow.file, model=getattr(options, "model", None))
        return await run_durable(
            workflow.step,
            task,
            store=store,
            run_id=options.run_id,
            flow_ref=ref,
            workflow=workflow.name,
            conversation=getattr(options, "conversation", None),
            budget=workflow.budget,
            sinks=[sink],
            streaming=True,
        )
    finally:
        await store.close()


# Rendering -----------------------------------------------------------------------------------------

_STYLES = {
    "succeeded": "green",
    "running": "yellow",
    "pending": "yellow",
    "waiting": "cyan",
    "needs_attention": "bold red",
    "failed": "red",
    "rejected": "red",
    "cancelled": "magenta",
    "budget_exceeded": "red",
}


def _status_text(status: str) -> str:
    return f"[{_STYLES.get(status, 'white')}]{status}[/]"


def _summary(record: RunRecord) -> dict[str, Any]:
    data = record.to_dict()
    return {
        k: data[k]
        for k in (
            "id",
            "workflow",
            "status",
            "attempt",
            "created_at",
            "updated_at",
            "finished_at",
            "conversation_id",
            "parent_run_id",
        )
    } | {"input": record.task.get("description")}


def _short(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else f"{flat[: limit - 1]}…"


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    seconds = (datetime.now(UTC) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _jsonable(value: Any) -> Any:
    from cadenza.durable.driver import jsonable

    return jsonable(value)
