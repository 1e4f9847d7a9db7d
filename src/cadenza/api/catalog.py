"""Workflows (with their versions) and agents registered over HTTP, scoped to teams.

Another team's object is reported exactly like a missing one (``NotFound``), so ids cannot be
probed across teams. Deleting marks the object deleted: runs that used it keep their reference.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from cadenza.api.auth import Principal
from cadenza.api.db import connect, now, utc, write
from cadenza.api.errors import Conflict, NotFound
from cadenza.store import Store
from cadenza.store.auth_tables import workflow_versions
from cadenza.store.records import hex_id
from cadenza.store.tables import agents, workflows


@dataclass(slots=True)
class WorkflowRecord:
    id: str
    name: str
    team: str
    version: int
    pattern: str | None
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class VersionRecord:
    workflow_id: str
    version: int
    spec: dict[str, Any]
    source: str
    created_by: str | None
    created_at: datetime


@dataclass(slots=True)
class AgentRecord:
    id: str
    name: str
    team: str
    spec: dict[str, Any]
    capabilities: list[str]
    created_at: datetime


def object_key(value: str, kind: str) -> str:
    """An id in the store's form; ``NotFound`` for anything that is not a UUID."""
    try:
        return uuid.UUID(value).hex
    except ValueError:
        raise NotFound(f"no {kind} with id {value!r}") from None


def visible(principal: Principal, team: str | None) -> bool:
    return principal.sees_all_teams or team == principal.team


def _workflow(row: Any) -> WorkflowRecord:
    m = row._mapping
    config = m["config"] or {}
    return WorkflowRecord(
        hex_id(m["id"]),
        m["name"],
        m["team"] or "",
        int(config.get("version", 1)),
        m["pattern"],
        str(config.get("description", "")),
        utc(m["created_at"]),
        utc(m["updated_at"] or m["created_at"]),
    )


def pattern_of(spec: dict[str, Any]) -> str | None:
    node = spec.get("workflow")
    if isinstance(node, str):
        return "agent" if node in (spec.get("agents") or {}) else "step"
    if isinstance(node, dict) and len(node) == 1:
        return str(next(iter(node)))
    return None


# Workflows ------------------------------------------------------------------------------------


async def create_workflow(
    store: Store, principal: Principal, spec: dict[str, Any], source: str
) -> WorkflowRecord:
    name = str(spec["name"])
    at = now()
    key = uuid.uuid4().hex

    def work(conn: Connection) -> None:
        taken = (
            conn.execute(
                select(workflows.c.id).where(
                    workflows.c.name == name,
                    workflows.c.team == principal.team,
                    workflows.c.status == "active",
                )
            )
        ).first()
        if taken is not None:
            raise Conflict(
                f"team {principal.team!r} already has a workflow named {name!r} "
                f"(id {hex_id(taken[0])}); add a version to it instead"
            )
        conn.execute(
            insert(workflows),
            {
                "id": key,
                "name": name,
                "pattern": pattern_of(spec),
                "status": "active",
                "team": principal.team,
                "config": {"version": 1, "description": str(spec.get("description", ""))},
                "created_at": at,
                "updated_at": at,
            },
        )
        conn.execute(
            insert(workflow_versions),
            {
                "workflow_id": key,
                "version": 1,
                "spec": spec,
                "source": source,
                "created_by": principal.actor,
                "created_at": at,
            },
        )

    await write(store, work)
    return WorkflowRecord(
        key, name, principal.team, 1, pattern_of(spec), str(spec.get("description", "")), at, at
    )


async def get_workflow(store: Store, principal: Principal, workflow_id: str) -> WorkflowRecord:
    key = object_key(workflow_id, "workflow")
    async with connect(store) as conn:
        row = (await conn.execute(select(workflows).where(workflows.c.id == key))).first()
    if row is None or row._mapping["status"] != "active" or not visible(principal, row._mapping["team"]):
        raise NotFound(f"no workflow with id {workflow_id!r}")
    return _workflow(row)


async def list_workflows(
    store: Store, principal: Principal, *, name: str | None, limit: int, offset: int
) -> list[WorkflowRecord]:
    query = select(workflows).where(workflows.c.status == "active")
    if not principal.sees_all_teams:
        query = query.where(workflows.c.team == principal.team)
    if name:
        query = query.where(workflows.c.name == name)
    query = query.order_by(workflows.c.created_at.desc(), workflows.c.id).limit(limit).offset(offset)
    async with connect(store) as conn:
        return [_workflow(row) for row in (await conn.execute(query)).all()]


async def get_version(store: Store, workflow: WorkflowRecord, version: int | None = None) -> VersionRecord:
    number = workflow.version if version is None else version
    query = select(workflow_versions).where(
        workflow_versions.c.workflow_id == workflow.id, workflow_versions.c.version == number
    )
    async with connect(store) as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"workflow {workflow.id} has no version {number}")
    m = row._mapping
    return VersionRecord(
        workflow.id, m["version"], m["spec"], m["source"], m["created_by"], utc(m["created_at"])
    )


async def list_versions(store: Store, workflow: WorkflowRecord) -> list[VersionRecord]:
    query = (
        select(workflow_versions)
        .where(workflow_versions.c.workflow_id == workflow.id)
        .order_by(workflow_versions.c.version)
    )
    async with connect(store) as conn:
        rows = (await conn.execute(query)).all()
    return [
        VersionRecord(workflow.id, r.version, r.spec, r.source, r.created_by, utc(r.created_at)) for r in rows
    ]


async def add_version(
    store: Store, principal: Principal, workflow: WorkflowRecord, spec: dict[str, Any], source: str
) -> WorkflowRecord:
    if spec["name"] != workflow.name:
        raise Conflict(f"a new version must keep the workflow's name {workflow.name!r}, got {spec['name']!r}")
    at = now()

    def work(conn: Connection) -> int:
        latest = (
            conn.execute(
                select(func.max(workflow_versions.c.version)).where(
                    workflow_versions.c.workflow_id == workflow.id
                )
            )
        ).scalar_one()
        number = int(latest or 0) + 1
        conn.execute(
            insert(workflow_versions),
            {
                "workflow_id": workflow.id,
                "version": number,
                "spec": spec,
                "source": source,
                "created_by": principal.actor,
                "created_at": at,
            },
        )
        conn.execute(
            update(workflows)
            .where(workflows.c.id == workflow.id)
            .values(
                config={"version": number, "description": str(spec.get("description", ""))},
                pattern=pattern_of(spec),
                updated_at=at,
            )
        )
        return number

    number = await write(store, work)
    workflow.version = number
    workflow.pattern = pattern_of(spec)
    workflow.description = str(spec.get("description", ""))
    workflow.updated_at = at
    return workflow


async def delete_workflow(store: Store, workflow: WorkflowRecord) -> None:
    def work(conn: Connection) -> None:
        conn.execute(
            update(workflows).where(workflows.c.id == workflow.id).values(status="deleted", updated_at=now())
        )

    await write(store, work)


# Agents ---------------------------------------------------------------------------------------


def _agent(row: Any) -> AgentRecord:
    m = row._mapping
    return AgentRecord(
        hex_id(m["id"]),
        m["name"],
        m["team"] or "",
        dict(m["config"] or {}),
        list(m["capabilities"] or []),
        utc(m["created_at"]),
    )


async def create_agent(store: Store, principal: Principal, name: str, spec: dict[str, Any]) -> AgentRecord:
    at = now()
    key = uuid.uuid4().hex
    capabilities = list(spec.get("capabilities") or [])

    def work(conn: Connection) -> None:
        taken = (
            conn.execute(
                select(agents.c.id).where(
                    agents.c.name == name, agents.c.team == principal.team, agents.c.status == "active"
                )
            )
        ).first()
        if taken is not None:
            raise Conflict(
                f"team {principal.team!r} already has an agent named {name!r} (id {hex_id(taken[0])})"
            )
        conn.execute(
            insert(agents),
            {
                "id": key,
                "name": name,
                "type": "agent",
                "capabilities": capabilities,
                "config": spec,
                "status": "active",
                "team": principal.team,
                "created_at": at,
            },
        )

    await write(store, work)
    return AgentRecord(key, name, principal.team, spec, capabilities, at)


async def get_agent(store: Store, principal: Principal, agent_id: str) -> AgentRecord:
    key = object_key(agent_id, "agent")
    async with connect(store) as conn:
        row = (await conn.execute(select(agents).where(agents.c.id == key))).first()
    if row is None or row._mapping["status"] != "active" or not visible(principal, row._mapping["team"]):
        raise NotFound(f"no agent with id {agent_id!r}")
    return _agent(row)


async def list_agents(store: Store, principal: Principal, *, limit: int, offset: int) -> list[AgentRecord]:
    query = select(agents).where(agents.c.status == "active")
    if not principal.sees_all_teams:
        query = query.where(agents.c.team == principal.team)
    query = query.order_by(agents.c.created_at.desc(), agents.c.id).limit(limit).offset(offset)
    async with connect(store) as conn:
        return [_agent(row) for row in (await conn.execute(query)).all()]


async def delete_agent(store: Store, agent: AgentRecord) -> None:
    def work(conn: Connection) -> None:
        conn.execute(update(agents).where(agents.c.id == agent.id).values(status="deleted"))

    await write(store, work)


def agent_workflow_spec(agent: AgentRecord) -> dict[str, Any]:
    """A one-agent workflow spec that runs ``agent``."""
    return {"name": agent.name, "agents": {agent.name: agent.spec}, "workflow": agent.name}
