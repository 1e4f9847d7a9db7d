"""The seed's ``tasks`` table as a durable run's record of its agent invocations.

Each agent invocation of a run is one ``tasks`` row: the run's workflow and the agent (the
``workflows``/``agents`` rows of that name in the run's team, created with status ``recorded``
when the service has none registered), the prompt as ``description``, the output as ``result``,
a status and timestamps. The run's event recorder queues rows; the batch writer writes them in
the transaction it commits anyway (``write_sqlite``/``write``), so recording tasks adds no
commit. A task's id is derived from its run and step path: a resumed run, which replays its
agents, rewrites the same rows instead of adding copies.

Task rows are a record, not the journal, and must never fail the batch's journal rows: they are
written with INSERT ... SELECT, so a row whose run is gone is skipped and a workflow or agent id
that no longer exists (only tampering hard-deletes them) becomes NULL instead of a foreign-key
error; no savepoint is needed (on PostgreSQL each one is a round trip per batch).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from cadenza.store.records import aware, hex_id
from cadenza.store.tables import agents, tasks, workflows

if TYPE_CHECKING:
    from cadenza.store.store import Store

log = logging.getLogger("cadenza.store")
RECORDED = "recorded"  # a workflow/agent row made for a run's tasks, not registered via the API
_CACHE_LIMIT = 4096


def task_id(run_id: str, path: str) -> str:
    """Derived from run and path (a BLAKE2 digest: a uuid5 costs ten times as much per row)."""
    return hashlib.blake2b(f"{run_id.replace('-', '')}/{path}".encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class TaskRow:
    """One agent invocation as the recorder saw it; turned into a row when the batch commits."""

    run_id: str
    path: str
    agent: str
    status: str
    created_at: datetime
    description: str | None = None
    output: Any = None
    error: str | None = None
    finished_at: datetime | None = None

    def result_json(self) -> str | None:
        if self.status != "succeeded":
            return None
        from pydantic_core import to_json

        return to_json(self.output, fallback=str).decode()


class TaskIds:
    """The workflow and agent ids tasks point to, resolved once per run and name (per writer)."""

    __slots__ = ("agents", "runs", "workflows")

    def __init__(self) -> None:
        self.runs: dict[str, tuple[str, str | None]] = {}  # run id -> (workflow id, team)
        self.agents: dict[tuple[str | None, str], str] = {}  # (team, agent name) -> agent id
        self.workflows: dict[tuple[str | None, str], str] = {}  # (team, workflow name) -> id

    def trim(self) -> None:
        for cache in (self.runs, self.agents, self.workflows):
            if len(cache) > _CACHE_LIMIT:
                cache.clear()

    def clear(self) -> None:
        """After a rolled-back write: ids made in it do not exist."""
        self.runs.clear()
        self.agents.clear()
        self.workflows.clear()


def _latest(rows: list[TaskRow]) -> list[TaskRow]:
    """One row per task: a task started and finished within a batch is queued twice (one upsert
    may not touch a row twice on PostgreSQL)."""
    return list({(row.run_id, row.path): row for row in rows}.values())


# SQLite, on the writer's raw connection ------------------------------------------------------------

# INSERT ... SELECT: a row whose run is gone is skipped, and a workflow or agent id that does not
# exist (only tampering hard-deletes them) becomes NULL: task rows cannot fail the batch.
_SQLITE_UPSERT = (
    "INSERT INTO tasks (id, workflow_id, agent_id, run_id, path, description, result, status, "
    "error, created_at, finished_at) SELECT ?, (SELECT id FROM workflows WHERE id = ?), "
    "(SELECT id FROM agents WHERE id = ?), id, ?, ?, ?, ?, ?, ?, ? FROM runs WHERE id = ? "
    "ON CONFLICT (id) DO UPDATE SET description = excluded.description, result = excluded.result, "
    "status = excluded.status, error = excluded.error, finished_at = excluded.finished_at"
)


def write_sqlite(raw: Any, rows: list[TaskRow], ids: TaskIds) -> None:
    """Write ``rows`` in the batch's transaction on SQLite's raw connection.

    No savepoint: a failing statement undoes only itself on SQLite (the batch's transaction goes
    on), and a savepoint's statement journal costs as much as the rows themselves.
    """
    from cadenza.store.writer import sqlite_value

    try:
        params = []
        rows = _latest(rows)
        _runs_sqlite(raw, {row.run_id for row in rows}, ids)
        for row in rows:
            run = ids.runs.get(row.run_id)
            if run is None:  # the run was deleted meanwhile
                continue
            workflow_id, team = run
            agent_id = _agent_sqlite(raw, team, row.agent, row.created_at, ids)
            params.append(
                (
                    task_id(row.run_id, row.path),
                    workflow_id,
                    agent_id,
                    row.path[:1024],
                    row.description,
                    row.result_json(),
                    row.status,
                    row.error,
                    sqlite_value(row.created_at),
                    sqlite_value(row.finished_at),
                    row.run_id,
                )
            )
        raw.executemany(_SQLITE_UPSERT, params)
    except Exception as exc:
        ids.clear()
        log.error("%d task rows could not be recorded: %s", len(rows), exc)
    ids.trim()


def _runs_sqlite(raw: Any, run_ids: set[str], ids: TaskIds) -> None:
    """Resolve the workflow and team of the runs not seen yet, with one query for the batch."""
    missing = [run_id for run_id in run_ids if run_id not in ids.runs]
    if not missing:
        return
    found = raw.execute(
        f"SELECT id, workflow, workflow_id, team FROM runs WHERE id IN ({', '.join('?' * len(missing))})",
        missing,
    ).fetchall()
    for run_id, name, workflow_id, team in found:
        if workflow_id is None:
            workflow_id = _workflow_sqlite(raw, name, team, ids)
        ids.runs[str(run_id)] = (str(workflow_id), team)


def _workflow_sqlite(raw: Any, name: str, team: str | None, ids: TaskIds) -> str:
    known = ids.workflows.get((team, name))
    if known is None:
        workflow_id = _named_sqlite(raw, "workflows", name, team)
        if workflow_id is None:
            workflow_id = uuid.uuid4().hex
            now = _now_sqlite()
            raw.execute(
                "INSERT INTO workflows (id, name, status, config, created_at, updated_at, team) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (workflow_id, name, RECORDED, '{"source": "run"}', now, now, team),
            )
        ids.workflows[(team, name)] = known = str(workflow_id)
    return known


def _agent_sqlite(raw: Any, team: str | None, name: str, at: datetime, ids: TaskIds) -> str:
    from cadenza.store.writer import sqlite_value

    known = ids.agents.get((team, name))
    if known is not None:
        return known
    agent_id = _named_sqlite(raw, "agents", name, team)
    if agent_id is None:
        agent_id = uuid.uuid4().hex
        raw.execute(
            "INSERT INTO agents (id, name, type, status, config, created_at, team) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agent_id, name, "agent", RECORDED, '{"source": "run"}', sqlite_value(at), team),
        )
    ids.agents[(team, name)] = agent_id = str(agent_id)
    return agent_id


def _named_sqlite(raw: Any, table: str, name: str, team: str | None) -> str | None:
    """The id of the active (registered) or recorded row of that name in the team."""
    found = raw.execute(
        f"SELECT id FROM {table} WHERE name = ? AND team IS ? AND status IN ('active', ?) "
        "ORDER BY status = 'active' DESC, created_at LIMIT 1",
        (name, team, RECORDED),
    ).fetchone()
    return None if found is None else str(found[0])


def _now_sqlite() -> str:
    from cadenza.store.writer import sqlite_value

    return str(sqlite_value(datetime.now(UTC)))


# PostgreSQL, on the writer's SQLAlchemy connection ---------------------------------------------------


def write(conn: Connection, rows: list[TaskRow], ids: TaskIds) -> None:
    """Write ``rows`` in the batch's transaction (PostgreSQL): one statement, no savepoint (each
    one is a round trip), and like SQLite's it cannot fail on a missing run, workflow or agent."""
    rows = _latest(rows)
    _runs(conn, {hex_id(row.run_id) for row in rows}, ids)
    params = []
    for row in rows:
        run = ids.runs.get(hex_id(row.run_id))
        if run is None:  # the run was deleted meanwhile
            continue
        workflow_id, team = run
        result = row.result_json()
        params.append(
            {
                "t_id": task_id(row.run_id, row.path),
                "t_workflow_id": workflow_id,
                "t_agent_id": _agent(conn, team, row.agent, row.created_at, ids),
                "t_run_id": row.run_id,
                "t_path": row.path[:1024],
                "t_description": row.description,
                "t_result": None if result is None else _loads(result),
                "t_status": row.status,
                "t_error": row.error,
                "t_created_at": row.created_at,
                "t_finished_at": row.finished_at,
            }
        )
    if params:
        conn.execute(_pg_upsert(), params)
    ids.trim()


_PG_UPSERT: list[Any] = []
_UPDATED = ("description", "result", "status", "error", "finished_at")


def _pg_upsert() -> Any:
    """INSERT ... SELECT ... ON CONFLICT DO UPDATE, built once (the SQLite statement's twin)."""
    if _PG_UPSERT:
        return _PG_UPSERT[0]
    from sqlalchemy import bindparam
    from sqlalchemy.dialects.postgresql import insert

    from cadenza.store.tables import runs

    def param(name: str) -> Any:
        return bindparam(f"t_{name}", type_=tasks.c[name].type)

    source = select(
        param("id"),
        select(workflows.c.id).where(workflows.c.id == param("workflow_id")).scalar_subquery(),
        select(agents.c.id).where(agents.c.id == param("agent_id")).scalar_subquery(),
        runs.c.id,
        *(param(name) for name in ("path", "description", "result", "status", "error")),
        param("created_at"),
        param("finished_at"),
    ).where(runs.c.id == param("run_id"))
    columns = [
        "id",
        "workflow_id",
        "agent_id",
        "run_id",
        "path",
        "description",
        "result",
        "status",
        "error",
        "created_at",
        "finished_at",
    ]
    statement = insert(tasks).from_select(columns, source)
    _PG_UPSERT.append(
        statement.on_conflict_do_update(
            index_elements=[tasks.c.id], set_={c: statement.excluded[c] for c in _UPDATED}
        )
    )
    return _PG_UPSERT[0]


def _runs(conn: Connection, run_ids: set[str], ids: TaskIds) -> None:
    """Resolve the workflow and team of the runs not seen yet, with one query for the batch."""
    from cadenza.store.tables import runs

    missing = [run_id for run_id in run_ids if run_id not in ids.runs]
    if not missing:
        return
    found = conn.execute(
        select(runs.c.id, runs.c.workflow, runs.c.workflow_id, runs.c.team).where(runs.c.id.in_(missing))
    ).all()
    for run_id, name, workflow_id, team in found:
        if workflow_id is None:
            workflow_id = ids.workflows.get((team, name)) or _named(conn, workflows, name, team)
            if workflow_id is None:
                workflow_id = uuid.uuid4().hex
                now = datetime.now(UTC)
                conn.execute(
                    workflows.insert().values(
                        id=workflow_id,
                        name=name,
                        status=RECORDED,
                        config={"source": "run"},
                        created_at=now,
                        updated_at=now,
                        team=team,
                    )
                )
            ids.workflows[(team, name)] = str(workflow_id)
        ids.runs[hex_id(run_id)] = (str(workflow_id), team)


def _agent(conn: Connection, team: str | None, name: str, at: datetime, ids: TaskIds) -> str:
    known = ids.agents.get((team, name))
    if known is not None:
        return known
    agent_id = _named(conn, agents, name, team)
    if agent_id is None:
        agent_id = uuid.uuid4().hex
        conn.execute(
            agents.insert().values(
                id=agent_id,
                name=name,
                type="agent",
                status=RECORDED,
                config={"source": "run"},
                created_at=at,
                team=team,
            )
        )
    ids.agents[(team, name)] = agent_id = str(agent_id)
    return agent_id


def _named(conn: Connection, table: Any, name: str, team: str | None) -> str | None:
    found = conn.execute(
        select(table.c.id)
        .where(
            table.c.name == name,
            table.c.team.is_(None) if team is None else table.c.team == team,
            table.c.status.in_(("active", RECORDED)),
        )
        .order_by((table.c.status == "active").desc(), table.c.created_at)
        .limit(1)
    ).first()
    return None if found is None else str(found[0])


def _loads(text: str) -> Any:
    import json

    return json.loads(text)


# Reading ---------------------------------------------------------------------------------------------


async def run_tasks(
    store: Store, run_id: str, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """A run's tasks in the order they started: agent, workflow, prompt, output, status, times."""
    query = (
        select(
            tasks.c.id,
            tasks.c.path,
            agents.c.name.label("agent"),
            tasks.c.agent_id,
            workflows.c.name.label("workflow"),
            tasks.c.workflow_id,
            tasks.c.description,
            tasks.c.result,
            tasks.c.status,
            tasks.c.error,
            tasks.c.created_at,
            tasks.c.finished_at,
        )
        .select_from(
            tasks.outerjoin(agents, agents.c.id == tasks.c.agent_id).outerjoin(
                workflows, workflows.c.id == tasks.c.workflow_id
            )
        )
        .where(tasks.c.run_id == hex_id(run_id))
        .order_by(tasks.c.created_at, tasks.c.path)
        .limit(limit)
        .offset(offset)
    )
    async with store._connect() as conn:  # an unreachable database is a DatabaseUnavailableError
        found = (await conn.execute(query)).all()
    return [
        {
            **row._mapping,
            "id": _hex(row.id),
            "agent_id": _hex(row.agent_id),
            "workflow_id": _hex(row.workflow_id),
            "created_at": aware(row.created_at),
            "finished_at": aware(row.finished_at),
        }
        for row in found
    ]


def _hex(value: Any) -> str | None:
    return None if value is None else hex_id(value)
