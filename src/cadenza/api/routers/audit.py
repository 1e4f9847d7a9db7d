"""The audit log, read-only, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cadenza.api.auth import Principal
from cadenza.api.deps import needs, require
from cadenza.api.errors import responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import AuditEntry, AuditList
from cadenza.api.services import Svc

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get(
    "/audit",
    response_model=AuditList,
    responses=responses(403),
    openapi_extra=needs(Permission.audit_read),
    summary="Audit log entries, newest first",
)
async def list_audit(
    svc: Svc,
    _: Annotated[Principal, require(Permission.audit_read)],
    actor: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Literal["success", "denied", "rejected", "error"] | None = None,
    since: datetime | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> AuditList:
    limit = min(limit, svc.settings.max_page_size)
    rows = await svc.audit.query(
        actor=actor, action=action, outcome=outcome, since=since, limit=limit, offset=offset
    )
    return page(AuditList, [AuditEntry(**row) for row in rows], limit, offset)
