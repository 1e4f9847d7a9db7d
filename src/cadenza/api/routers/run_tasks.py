"""A run's tasks: each agent invocation of a durable run (the seed's ``tasks`` table), in order.

Recorded by the run's event recorder (``cadenza.store.task_records``); visible to whoever may
read the run (another team's run is a 404, like the run itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cadenza.api.auth import Principal
from cadenza.api.deps import needs, require
from cadenza.api.errors import responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import Page
from cadenza.api.services import Svc
from cadenza.api.views import visible_run

router = APIRouter(prefix="/v1/runs", tags=["runs"])


class TaskOut(BaseModel):
    id: str
    path: str | None = Field(description="The agent step's path in the run.")
    agent: str | None
    agent_id: str | None
    workflow: str | None
    workflow_id: str | None
    description: str | None = Field(description="The prompt the agent was given.")
    result: Any = Field(default=None, description="The agent's output (null unless succeeded).")
    status: str = Field(description="running, succeeded, failed or cancelled.")
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class TaskList(Page):
    items: list[TaskOut]


@router.get(
    "/{run_id}/tasks",
    response_model=TaskList,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.runs_read),
    summary="A run's tasks: its agent invocations, in the order they started",
)
async def list_tasks(
    run_id: str,
    svc: Svc,
    principal: Annotated[Principal, require(Permission.runs_read)],
    limit: Limit = 20,
    offset: Offset = 0,
) -> TaskList:
    from cadenza.store.task_records import run_tasks

    limit = min(limit, svc.settings.max_page_size)
    record = await visible_run(svc.store, principal, run_id)
    found = await run_tasks(svc.store, record.id, limit=limit, offset=offset)
    return page(TaskList, [TaskOut(**task) for task in found], limit, offset)
