"""Logging in: the OAuth2 password form for tokens, refreshing them, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from cadenza.api import accounts
from cadenza.api.auth import Principal
from cadenza.api.deps import current_principal, limit_anonymous
from cadenza.api.errors import Unauthorized, responses
from cadenza.api.schemas import Me, RefreshRequest, TokenPair
from cadenza.api.services import Services, Svc
from cadenza.api.tokens import InvalidToken

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def _pair(svc: Services, user: accounts.UserRecord) -> TokenPair:
    access, refresh = svc.auth.issue_pair(user)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=svc.settings.access_token_seconds)


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Log in with a user name and password",
    responses=responses(401, 429),
)
async def token(
    request: Request,
    svc: Svc,
    username: Annotated[str, Form(min_length=1, max_length=255)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenPair:
    """The OAuth2 password flow: form fields ``username`` and ``password``."""
    limit_anonymous(request, svc)
    request.state.audit_detail = {"username": username[:255]}
    user = await accounts.authenticate_user(svc.store, username, password)
    if user is None:
        raise Unauthorized("wrong user name or password, or the user is disabled")
    return _pair(svc, user)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Trade a refresh token for a new pair",
    responses=responses(401, 429),
)
async def refresh(request: Request, body: RefreshRequest, svc: Svc) -> TokenPair:
    limit_anonymous(request, svc)
    try:
        claims = svc.auth.tokens.decode(body.refresh_token, "refresh")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    user = await svc.auth.current_user(claims)
    return _pair(svc, user)


@router.get("/me", response_model=Me, summary="The authenticated caller")
async def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    return Me(
        kind=principal.kind, id=principal.id, name=principal.name, role=principal.role, team=principal.team
    )
