"""The service's long-lived objects, made once at start-up and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from cadenza.api.auth import Authenticator
from cadenza.api.ratelimit import RateLimiter
from cadenza.api.settings import ApiSettings
from cadenza.store import Store

if TYPE_CHECKING:
    from cadenza.api.audit import AuditLog
    from cadenza.api.runner import RunService


@dataclass
class Services:
    settings: ApiSettings
    store: Store
    auth: Authenticator
    limiter: RateLimiter
    anonymous_limiter: RateLimiter
    audit: AuditLog
    runs: RunService


async def services(request: Request) -> Services:
    """The app's ``Services`` (a FastAPI dependency; async, so FastAPI runs it without a thread hop)."""
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]
"""An endpoint parameter that receives the app's ``Services``."""
