"""FastAPI dependencies: the caller (authenticated and rate-limited) and the permission check.

Every endpoint except health, readiness and login depends on ``require(permission)``; the
permission is also written into the endpoint's OpenAPI operation as ``x-required-permission``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from cadenza.api.auth import Principal
from cadenza.api.errors import Forbidden, TooManyRequests, Unauthorized
from cadenza.api.roles import Permission, allows
from cadenza.api.services import Services, services

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token", auto_error=False, description="JWT access token from POST /v1/auth/token."
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `cadenza keys create` or POST /v1/keys."
)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_anonymous(request: Request, svc: Services) -> None:
    """Spend one token of the caller address's bucket (logins, failed authentications)."""
    wait = svc.anonymous_limiter.take(f"ip:{client_address(request)}")
    if wait:
        raise TooManyRequests(wait)


async def current_principal(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    token: Annotated[str | None, Depends(bearer_scheme)],
    key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The authenticated caller; 401 without valid credentials, 429 over the caller's rate limit."""
    try:
        if key:
            principal = await svc.auth.from_api_key(key)
        elif token:
            principal = await svc.auth.from_access_token(token)
        else:
            raise Unauthorized("authentication required: send a bearer token or an X-API-Key header")
    except Unauthorized:
        limit_anonymous(request, svc)
        raise
    request.state.principal = principal
    wait = svc.limiter.take(f"{principal.kind}:{principal.id}")
    if wait:
        raise TooManyRequests(wait)
    return principal


def require(permission: Permission) -> Any:
    """A dependency that yields the caller if their role grants ``permission``, else 403."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not allows(principal.role, permission):
            raise Forbidden(f"role {principal.role.value!r} does not grant {permission.value!r}")
        return principal

    check.__name__ = f"require_{permission.name}"
    return Depends(check)


def needs(permission: Permission) -> dict[str, Any]:
    """``openapi_extra`` naming the permission an endpoint needs."""
    return {"x-required-permission": permission.value}
