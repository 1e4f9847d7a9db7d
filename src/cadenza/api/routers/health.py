"""Liveness and readiness: no authentication, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from cadenza.api.errors import ServiceUnavailable, responses
from cadenza.api.schemas import Health, Readiness
from cadenza.api.services import Svc
from cadenza.store import migrate

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", response_model=Health, summary="The process is up")
async def health() -> Health:
    from cadenza import __version__

    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The database is reachable and its schema current",
    responses=responses(503),
)
async def ready(svc: Svc) -> Readiness:
    try:
        revision = await svc.store.schema_revision()
    except Exception as exc:
        raise ServiceUnavailable(
            f"database unreachable: {str(exc).splitlines()[0] if str(exc) else exc}"
        ) from None
    if revision != migrate.HEAD:
        raise ServiceUnavailable(f"database schema is at {revision}, this server needs {migrate.HEAD}")
    return Readiness(status="ready", database=svc.store.engine.dialect.name, schema_revision=revision or "")
