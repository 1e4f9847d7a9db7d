"""Runs: start (202 + id), get, list, cancel, resume, approve/reject; events, trace and cost."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from cadenza.api import catalog
from cadenza.api.auth import Principal
from cadenza.api.deps import needs, require
from cadenza.api.errors import NotFound, responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import (
    PAGE_CAP,
    Cost,
    Decision,
    EventList,
    RunAccepted,
    RunCreate,
    RunList,
    RunOut,
    Trace,
)
from cadenza.api.services import Services, Svc
from cadenza.api.specs import check_workflow
from cadenza.api.views import cost_of, run_out, trace_of, visible_run
from cadenza.store import RunRecord
from cadenza.store.records import ACTIVE, FINISHED
from cadenza.types.results import Task
from cadenza.workflows.workflow import Workflow

router = APIRouter(prefix="/v1/runs", tags=["runs"])
Reader = Annotated[Principal, require(Permission.runs_read)]
Writer = Annotated[Principal, require(Permission.runs_write)]
Approver = Annotated[Principal, require(Permission.runs_approve)]
STATUSES = (*ACTIVE, "waiting", "needs_attention", *FINISHED)  # every status a run can have


def accepted(record: RunRecord, response: Response) -> RunAccepted:
    base = f"/v1/runs/{record.id}"
    response.headers["Location"] = base
    return RunAccepted(
        id=record.id,
        status=record.status,
        links={"self": base, "events": f"{base}/events", "stream": f"{base}/stream"},
    )


async def _workflow(svc: Services, principal: Principal, workflow_id: str) -> catalog.WorkflowRecord:
    """The workflow a run starts from (recently looked-up ones from memory; visibility always checked)."""
    key = catalog.object_key(workflow_id, "workflow")
    record = svc.runs.recent_workflow(key)
    if record is None:
        record = await catalog.get_workflow(svc.store, principal, key)
        svc.runs.remember_workflow(key, record)
    elif not catalog.visible(principal, record.team):
        raise NotFound(f"no workflow with id {workflow_id!r}")
    return record


async def _flow(svc: Services, principal: Principal, body: RunCreate) -> tuple[Workflow, dict[str, Any]]:
    """The built flow and its reference (cached per workflow version: Steps serve many runs)."""
    settings = svc.settings
    if body.agent_id is not None:
        agent = await catalog.get_agent(svc.store, principal, body.agent_id)
        key = (agent.id, 0)
    else:
        workflow = await _workflow(svc, principal, str(body.workflow_id))
        key = (workflow.id, body.version or workflow.version)
    cached = svc.runs.cached_flow(key)
    if cached is not None:
        return cached
    if body.agent_id is not None:
        name, text = f"<agent {agent.name}>", json.dumps(catalog.agent_workflow_spec(agent), indent=2)
    else:
        version = await catalog.get_version(svc.store, workflow, key[1])
        name, text = f"<workflow {workflow.name} v{version.version}>", version.source
    flow = check_workflow(
        text, name, allow_imports=settings.allow_python_imports, model_override=settings.model_override
    )
    ref: dict[str, Any] = {"workflow_text": text, "file": name}
    if settings.model_override:
        ref["model"] = settings.model_override
    svc.runs.cache_flow(key, (flow, ref))
    return flow, ref


@router.post(
    "",
    status_code=202,
    response_model=RunAccepted,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.runs_write),
    summary="Start a run of a workflow or agent",
)
async def start_run(body: RunCreate, response: Response, svc: Svc, principal: Writer) -> RunAccepted:
    flow, ref = await _flow(svc, principal, body)
    task = Task(body.input, dict(body.context), body.expected_output)
    record = await svc.runs.start(flow, task, team=principal.team, flow_ref=ref)
    return accepted(record, response)


@router.get(
    "",
    response_model=RunList,
    responses=responses(403),
    openapi_extra=needs(Permission.runs_read),
    summary="List runs, newest first",
)
async def list_runs(
    svc: Svc,
    principal: Reader,
    status: Annotated[
        list[str] | None,
        Query(description=f"One or more of: {', '.join(STATUSES)}", max_length=len(STATUSES)),
    ] = None,
    workflow: Annotated[str | None, Query(max_length=255)] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> RunList:
    limit = min(limit, svc.settings.max_page_size)
    team = None if principal.sees_all_teams else principal.team
    records = await svc.store.list_runs(
        status=status or None, limit=limit, offset=offset, team=team, workflow=workflow
    )
    return page(RunList, [run_out(r) for r in records], limit, offset)


@router.get(
    "/{run_id}",
    response_model=RunOut,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.runs_read),
    summary="Get a run",
)
async def get_run(run_id: str, svc: Svc, principal: Reader) -> RunOut:
    return run_out(await visible_run(svc.store, principal, run_id))


@router.post(
    "/{run_id}/cancel",
    response_model=RunOut,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.runs_write),
    summary="Cancel an unfinished run",
)
async def cancel_run(run_id: str, svc: Svc, principal: Writer) -> RunOut:
    record = await visible_run(svc.store, principal, run_id)
    await svc.runs.cancel(record.id)
    return run_out(await svc.store.get_run(record.id))


@router.post(
    "/{run_id}/resume",
    status_code=202,
    response_model=RunAccepted,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.runs_write),
    summary="Resume a run from its journal",
)
async def resume_run(run_id: str, response: Response, svc: Svc, principal: Writer) -> RunAccepted:
    record = await visible_run(svc.store, principal, run_id)
    return accepted(await svc.runs.resume(record), response)


async def _decide(
    svc: Services, principal: Principal, run_id: str, body: Decision, approved: bool, response: Response
) -> RunAccepted:
    record = await visible_run(svc.store, principal, run_id)
    await svc.store.decide(record.id, approved=approved, comment=body.comment, by=principal.actor)
    return accepted(await svc.runs.resume(await svc.store.get_run(record.id)), response)


@router.post(
    "/{run_id}/approve",
    status_code=202,
    response_model=RunAccepted,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.runs_approve),
    summary="Approve a waiting run; it continues",
)
async def approve_run(
    run_id: str, body: Decision, response: Response, svc: Svc, principal: Approver
) -> RunAccepted:
    return await _decide(svc, principal, run_id, body, True, response)


@router.post(
    "/{run_id}/reject",
    status_code=202,
    response_model=RunAccepted,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.runs_approve),
    summary="Reject a waiting run; it ends as rejected",
)
async def reject_run(
    run_id: str, body: Decision, response: Response, svc: Svc, principal: Approver
) -> RunAccepted:
    return await _decide(svc, principal, run_id, body, False, response)


@router.get(
    "/{run_id}/events",
    response_model=EventList,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.runs_read),
    summary="A run's stored events, in order",
)
async def list_events(
    run_id: str,
    svc: Svc,
    principal: Reader,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Only events with a greater seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_CAP * 10)] = 200,
) -> EventList:
    record = await visible_run(svc.store, principal, run_id)
    events = await svc.store.list_events(record.id, after=after)
    page = events[:limit]
    more = len(events) > limit
    return EventList(items=page, next_after=page[-1]["seq"] if more and page else None)


@router.get(
    "/{run_id}/trace",
    response_model=Trace,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.runs_read),
    summary="A run's step and model-call spans",
)
async def get_trace(run_id: str, svc: Svc, principal: Reader) -> Trace:
    record = await visible_run(svc.store, principal, run_id)
    return trace_of(record.id, await svc.store.list_events(record.id))


@router.get(
    "/{run_id}/cost",
    response_model=Cost,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.runs_read),
    summary="A run's cost and usage by model",
)
async def get_cost(run_id: str, svc: Svc, principal: Reader) -> Cost:
    record = await visible_run(svc.store, principal, run_id)
    return await cost_of(svc.store, record.id)
