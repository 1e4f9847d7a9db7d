"""Agents: register one (a model, instructions, tools), list, get, delete; runs can target one."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Response

from cadenza.api import catalog
from cadenza.api.auth import Principal
from cadenza.api.deps import needs, require
from cadenza.api.errors import responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import AgentCreate, AgentList, AgentOut
from cadenza.api.services import Svc
from cadenza.api.specs import check_workflow

router = APIRouter(prefix="/v1/agents", tags=["agents"])
Reader = Annotated[Principal, require(Permission.agents_read)]
Writer = Annotated[Principal, require(Permission.agents_write)]


def _out(record: catalog.AgentRecord) -> AgentOut:
    return AgentOut(
        id=record.id,
        name=record.name,
        team=record.team,
        capabilities=record.capabilities,
        spec=record.spec,
        created_at=record.created_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=AgentOut,
    responses=responses(403, 409),
    openapi_extra=needs(Permission.agents_write),
    summary="Register an agent",
)
async def create_agent(body: AgentCreate, svc: Svc, principal: Writer) -> AgentOut:
    spec = body.spec.model_dump(mode="json", exclude_defaults=True)
    record = catalog.AgentRecord("", body.name, principal.team, spec, [], None)  # type: ignore[arg-type]
    check_workflow(
        json.dumps(catalog.agent_workflow_spec(record), indent=2),
        "<request body>",
        allow_imports=svc.settings.allow_python_imports,
        model_override=svc.settings.model_override,
    )
    return _out(await catalog.create_agent(svc.store, principal, body.name, spec))


@router.get(
    "",
    response_model=AgentList,
    responses=responses(403),
    openapi_extra=needs(Permission.agents_read),
    summary="List agents",
)
async def list_agents(svc: Svc, principal: Reader, limit: Limit = 20, offset: Offset = 0) -> AgentList:
    limit = min(limit, svc.settings.max_page_size)
    found = await catalog.list_agents(svc.store, principal, limit=limit, offset=offset)
    return page(AgentList, [_out(a) for a in found], limit, offset)


@router.get(
    "/{agent_id}",
    response_model=AgentOut,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.agents_read),
    summary="Get an agent",
)
async def get_agent(agent_id: str, svc: Svc, principal: Reader) -> AgentOut:
    return _out(await catalog.get_agent(svc.store, principal, agent_id))


@router.delete(
    "/{agent_id}",
    status_code=204,
    response_class=Response,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.agents_write),
    summary="Delete an agent",
)
async def delete_agent(agent_id: str, svc: Svc, principal: Writer) -> Response:
    record = await catalog.get_agent(svc.store, principal, agent_id)
    await catalog.delete_agent(svc.store, record)
    return Response(status_code=204)
