"""A run's events live: Server-Sent Events (resumable with Last-Event-ID) and WebSocket.

Both send the stored history first, then live events, and end when the run stops.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from cadenza.api.audit import outcome_of
from cadenza.api.auth import Principal
from cadenza.api.db import now
from cadenza.api.deps import needs, require
from cadenza.api.errors import ApiError, Forbidden, Unauthorized, responses
from cadenza.api.handlers import json_error
from cadenza.api.roles import Permission, allows
from cadenza.api.services import Services, Svc
from cadenza.api.sse import event_feed, with_keepalive
from cadenza.api.views import visible_run

router = APIRouter(prefix="/v1/runs", tags=["runs"])

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A text/event-stream of the run's events (id = seq).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}


def _cursor(last_event_id: str | None, after: int) -> int:
    if last_event_id and last_event_id.strip().isdigit():
        return max(after, int(last_event_id.strip()))
    return after


@router.get(
    "/{run_id}/stream",
    response_class=StreamingResponse,
    responses={**_SSE_DOC, **responses(403, 404)},
    openapi_extra=needs(Permission.runs_read),
    summary="Stream a run's events (Server-Sent Events)",
)
async def stream_events(
    run_id: str,
    svc: Svc,
    principal: Annotated[Principal, require(Permission.runs_read)],
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    record = await visible_run(svc.store, principal, run_id)
    feed = event_feed(svc.store, svc.runs.broker, record.id, _cursor(last_event_id, after))
    return StreamingResponse(
        with_keepalive(feed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.websocket("/{run_id}/ws")
async def websocket_events(websocket: WebSocket, run_id: str, after: int = 0) -> None:
    """Send each event as a JSON text message; authenticate with X-API-Key or a bearer token."""
    svc: Services = websocket.app.state.services
    try:
        principal = await _authenticate(svc, websocket)
        if not allows(principal.role, Permission.runs_read):
            raise Forbidden(f"role {principal.role.value!r} does not grant 'runs:read'")
        record = await visible_run(svc.store, principal, run_id)
    except ApiError as exc:
        _audit_refusal(svc, websocket, exc)
        await _refuse(websocket, exc)
        return
    await websocket.accept()
    try:
        async for seq, data in event_feed(svc.store, svc.runs.broker, record.id, max(0, after)):
            await websocket.send_text(json.dumps({**data, "seq": seq} if seq else data, default=str))
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return


async def _refuse(websocket: WebSocket, exc: ApiError) -> None:
    """Answer the handshake with the error's HTTP status and body (401, 403, 404)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(json_error(exc.status, exc.body(), exc.headers))
    else:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])


async def _authenticate(svc: Services, websocket: WebSocket) -> Principal:
    key = websocket.headers.get("x-api-key")
    authorization = websocket.headers.get("authorization", "")
    if key:
        return await svc.auth.from_api_key(key)
    if authorization.lower().startswith("bearer "):
        return await svc.auth.from_access_token(authorization[7:].strip())
    raise Unauthorized("authentication required: send a bearer token or an X-API-Key header")


def _audit_refusal(svc: Services, websocket: WebSocket, exc: ApiError) -> None:
    if exc.status not in (401, 403):
        return
    client = websocket.client
    svc.audit.record(
        {
            "at": now(),
            "actor": None,
            "role": None,
            "team": None,
            "action": "websocket_events",
            "method": "WS",
            "path": websocket.url.path[:1024],
            "status": exc.status,
            "outcome": outcome_of(exc.status),
            "client": client.host if client else None,
            "user_agent": (websocket.headers.get("user-agent") or "")[:512] or None,
            "detail": {"reason": exc.message},
        },
        wait=False,
    )
