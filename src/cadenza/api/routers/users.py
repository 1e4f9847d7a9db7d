"""Users and API keys: admins only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Response

from cadenza.api import accounts
from cadenza.api.auth import Principal
from cadenza.api.db import now
from cadenza.api.deps import needs, require
from cadenza.api.errors import Conflict, NotFound, responses
from cadenza.api.roles import Permission
from cadenza.api.routers._common import Limit, Offset, page
from cadenza.api.schemas import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from cadenza.api.services import Svc

router = APIRouter(prefix="/v1", tags=["admin"])
Users = Annotated[Principal, require(Permission.users_manage)]
Keys = Annotated[Principal, require(Permission.keys_manage)]


def _user_out(user: accounts.UserRecord) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        role=user.role,
        team=user.team,
        disabled=user.disabled,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _key_out(key: accounts.KeyRecord) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        role=key.role,
        team=key.team,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=responses(403, 409),
    openapi_extra=needs(Permission.users_manage),
    summary="Create a user",
)
async def create_user(body: UserCreate, svc: Svc, _: Users) -> UserOut:
    try:
        user = await accounts.create_user(svc.store, body.name, body.password, body.role, body.team)
    except accounts.AccountError as exc:
        raise Conflict(str(exc)) from None
    return _user_out(user)


@router.get(
    "/users",
    response_model=UserList,
    responses=responses(403),
    openapi_extra=needs(Permission.users_manage),
    summary="List users",
)
async def list_users(svc: Svc, _: Users, limit: Limit = 20, offset: Offset = 0) -> UserList:
    limit = min(limit, svc.settings.max_page_size)
    found = await accounts.list_users(svc.store, limit=limit, offset=offset)
    return page(UserList, [_user_out(u) for u in found], limit, offset)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.users_manage),
    summary="Get a user",
)
async def get_user(user_id: str, svc: Svc, _: Users) -> UserOut:
    user = await accounts.get_user(svc.store, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    return _user_out(user)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.users_manage),
    summary="Change a user's role, password or status",
)
async def update_user(user_id: str, body: UserUpdate, svc: Svc, _: Users) -> UserOut:
    user = await accounts.update_user(
        svc.store, user_id, role=body.role, disabled=body.disabled, password=body.password
    )
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    return _user_out(user)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=responses(403),
    openapi_extra=needs(Permission.keys_manage),
    summary="Create an API key (shown once)",
)
async def create_key(body: KeyCreate, svc: Svc, principal: Keys) -> KeyCreated:
    expires = now() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    record, key = await accounts.create_key(
        svc.store, body.name, body.role, team=body.team, created_by=principal.actor, expires_at=expires
    )
    return KeyCreated(key=key, **_key_out(record).model_dump())


@router.get(
    "/keys",
    response_model=KeyList,
    responses=responses(403),
    openapi_extra=needs(Permission.keys_manage),
    summary="List API keys (never their secrets)",
)
async def list_keys(svc: Svc, _: Keys, limit: Limit = 20, offset: Offset = 0) -> KeyList:
    limit = min(limit, svc.settings.max_page_size)
    found = await accounts.list_keys(svc.store, limit=limit, offset=offset)
    return page(KeyList, [_key_out(k) for k in found], limit, offset)


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=responses(403, 404),
    openapi_extra=needs(Permission.keys_manage),
    summary="Revoke an API key",
)
async def revoke_key(key_id: str, svc: Svc, _: Keys) -> Response:
    record = await accounts.revoke_key(svc.store, key_id[:64])
    if record is None:
        raise NotFound(f"no API key with id {key_id!r}")
    svc.auth.forget_key(record.id)
    return Response(status_code=204)
