"""``create_app``: the FastAPI application of ``cadenza serve``.

The store is opened at start-up (SQLite is upgraded automatically, PostgreSQL must be at the
code's schema: ``cadenza db upgrade``); runs left behind by a dead process are resumed in the
background; at shutdown running runs get a grace period, then are left for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from cadenza.api import handlers
from cadenza.api.audit import AuditLog, AuditMiddleware
from cadenza.api.auth import Authenticator
from cadenza.api.broker import Broker
from cadenza.api.errors import responses
from cadenza.api.middleware import BodySizeLimit, RequestTimeout
from cadenza.api.ratelimit import RateLimiter
from cadenza.api.routers import (
    agents,
    audit,
    auth,
    health,
    observability,
    run_tasks,
    runs,
    stream,
    users,
    workflows,
)
from cadenza.api.runner import RunService
from cadenza.api.services import Services
from cadenza.api.settings import ApiSettings
from cadenza.api.tokens import TokenIssuer
from cadenza.store import Store

log = logging.getLogger("cadenza.api")


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The service, configured by ``settings`` (default: from ``CADENZA_*`` environment variables)."""
    from cadenza import __version__

    config = settings or ApiSettings()
    _register_approval()
    app = FastAPI(
        title="Cadenza",
        version=__version__,
        description="Multi-agent workflows: register workflows and agents, start runs, follow their events.",
        lifespan=_lifespan(config),
        responses=responses(400, 401, 413, 422, 429, 503, 504),
    )
    handlers.install(app)
    for router in (
        health.router,
        auth.router,
        users.router,
        audit.router,
        workflows.router,
        observability.router,  # before agents: /v1/agents/stats is not an agent id
        agents.router,
        runs.router,
        run_tasks.router,
        stream.router,
    ):
        app.include_router(router)
    # Outermost first: audit sees every answer, including 413 and 504.
    app.add_middleware(RequestTimeout, seconds=config.request_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(AuditMiddleware)
    return app


def _lifespan(settings: ApiSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cadenza.config import get_settings
        from cadenza.observability.metrics import enable_metrics

        # The config file's model prices hold for every run served, however the app was started.
        get_settings().apply_prices()
        store = await Store.open(settings.database_url, upgrade=settings.upgrade_database)
        enable_metrics()  # every run of this process feeds GET /metrics
        tokens = TokenIssuer(
            settings.signing_secret(),
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_seconds,
            settings.refresh_token_seconds,
        )
        run_service = RunService(store, Broker())
        audit_log = AuditLog(store)
        app.state.services = Services(
            settings=settings,
            store=store,
            auth=Authenticator(store, tokens, settings.api_key_cache_seconds),
            limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            anonymous_limiter=RateLimiter(settings.anonymous_rate_per_second, settings.anonymous_rate_burst),
            audit=audit_log,
            runs=run_service,
        )
        recovery = asyncio.create_task(_recover(run_service))
        try:
            yield
        finally:
            recovery.cancel()
            await run_service.shutdown(settings.shutdown_grace_seconds)
            await audit_log.close()
            await store.close()

    return lifespan


def _register_approval() -> None:
    """Workflows registered over HTTP may pause for a human: ``approval: {prompt: ...}``."""
    from cadenza.durable import Approval
    from cadenza.patterns import register_pattern
    from cadenza.patterns.registry import pattern_names

    if "approval" not in pattern_names():
        register_pattern("approval")(Approval)


async def _recover(service: RunService) -> None:
    """Resume every run a dead process left running (each one is taken under a lease, once)."""
    for record in await service.store.orphaned_runs():
        try:
            await service.resume(record)
        except Exception as exc:
            log.warning("run %s could not be recovered: %s", record.id, exc)
