"""Workflows: register a spec (YAML/JSON), list, get, add a version, delete.

A spec is checked by the same loader as ``cadenza run``: its problems come back as a 422 whose
details carry the file's line, column, key, value and expectation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from cadenza.api import catalog
from cadenza.api.auth import Principal
from cadenza.api.deps import needs, require
from cadenza.api.errors import responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import (
    VersionList,
    VersionOut,
    WorkflowCreate,
    WorkflowDetail,
    WorkflowList,
    WorkflowOut,
)
from cadenza.api.services import Services, Svc
from cadenza.api.specs import check_workflow, spec_text

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])
Reader = Annotated[Principal, require(Permission.workflows_read)]
Writer = Annotated[Principal, require(Permission.workflows_write)]


def _out(record: catalog.WorkflowRecord) -> WorkflowOut:
    return WorkflowOut(
        id=record.id,
        name=record.name,
        team=record.team,
        version=record.version,
        pattern=record.pattern,
        description=record.description,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def checked(svc: Services, body: WorkflowCreate) -> tuple[dict[str, Any], str]:
    """(spec data as written, source text) of a valid spec; WorkflowFileError (422) otherwise."""
    text = spec_text(body.spec)
    flow = check_workflow(
        text,
        "<request body>",
        allow_imports=svc.settings.allow_python_imports,
        model_override=svc.settings.model_override,
    )
    return flow.dump(), text


@router.post(
    "",
    status_code=201,
    response_model=WorkflowOut,
    responses=responses(403, 409),
    openapi_extra=needs(Permission.workflows_write),
    summary="Register a workflow",
)
async def create_workflow(body: WorkflowCreate, svc: Svc, principal: Writer) -> WorkflowOut:
    spec, source = checked(svc, body)
    return _out(await catalog.create_workflow(svc.store, principal, spec, source))


@router.get(
    "",
    response_model=WorkflowList,
    openapi_extra=needs(Permission.workflows_read),
    responses=responses(403),
    summary="List workflows",
)
async def list_workflows(
    svc: Svc,
    principal: Reader,
    name: Annotated[str | None, Query(max_length=80)] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> WorkflowList:
    limit = min(limit, svc.settings.max_page_size)
    found = await catalog.list_workflows(svc.store, principal, name=name, limit=limit, offset=offset)
    return page(WorkflowList, [_out(w) for w in found], limit, offset)


@router.get(
    "/{workflow_id}",
    response_model=WorkflowDetail,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.workflows_read),
    summary="Get a workflow and its latest spec",
)
async def get_workflow(workflow_id: str, svc: Svc, principal: Reader) -> WorkflowDetail:
    record = await catalog.get_workflow(svc.store, principal, workflow_id)
    version = await catalog.get_version(svc.store, record)
    return WorkflowDetail(**_out(record).model_dump(), spec=version.spec, source=version.source)


@router.post(
    "/{workflow_id}/versions",
    status_code=201,
    response_model=WorkflowOut,
    responses=responses(403, 404, 409),
    openapi_extra=needs(Permission.workflows_write),
    summary="Register a new version of a workflow",
)
async def add_version(workflow_id: str, body: WorkflowCreate, svc: Svc, principal: Writer) -> WorkflowOut:
    record = await catalog.get_workflow(svc.store, principal, workflow_id)
    spec, source = checked(svc, body)
    svc.runs.forget_workflow(record.id)
    return _out(await catalog.add_version(svc.store, principal, record, spec, source))


@router.get(
    "/{workflow_id}/versions",
    response_model=VersionList,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.workflows_read),
    summary="Every version of a workflow",
)
async def list_versions(workflow_id: str, svc: Svc, principal: Reader) -> VersionList:
    record = await catalog.get_workflow(svc.store, principal, workflow_id)
    versions = await catalog.list_versions(svc.store, record)
    return VersionList(
        items=[
            VersionOut(
                version=v.version,
                created_by=v.created_by,
                created_at=v.created_at,
                spec=v.spec,
                source=v.source,
            )
            for v in versions
        ]
    )


@router.delete(
    "/{workflow_id}",
    status_code=204,
    response_class=Response,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.workflows_write),
    summary="Delete a workflow",
)
async def delete_workflow(workflow_id: str, svc: Svc, principal: Writer) -> Response:
    record = await catalog.get_workflow(svc.store, principal, workflow_id)
    await catalog.delete_workflow(svc.store, record)
    svc.runs.forget_workflow(record.id)
    return Response(status_code=204)
