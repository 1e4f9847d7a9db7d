"""Users and API keys in the store: create, find, verify, revoke.

Used by the service and by ``cadenza users``/``cadenza keys``. An API key is
``cdz_<id>_<secret>``: the id is stored in clear (to find the row and to name the key in the
audit log), only the SHA-256 of the secret is stored, and the whole key is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from cadenza.api.db import connect, execute, now, utc, write
from cadenza.api.passwords import MIN_PASSWORD_LENGTH, hash_password_async, verify_password
from cadenza.api.roles import Role
from cadenza.errors import ConfigurationError
from cadenza.store import Store
from cadenza.store.auth_tables import api_keys, users
from cadenza.store.records import aware, hex_id

KEY_PREFIX = "cdz_"
DEFAULT_TEAM = "default"


class AccountError(ConfigurationError):
    """A user or key cannot be created or changed (duplicate name, weak password, ...)."""


class AccountExistsError(AccountError):
    """The user name is taken (the API answers 409; other ``AccountError``s are bad input)."""


@dataclass(slots=True, frozen=True)
class UserRecord:
    id: str
    name: str
    role: Role
    team: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True, frozen=True)
class KeyRecord:
    id: str
    name: str
    role: Role
    team: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _user(row: Any) -> UserRecord:
    m = row._mapping
    return UserRecord(
        hex_id(m["id"]),
        m["name"],
        Role(m["role"]),
        m["team"],
        bool(m["disabled"]),
        utc(m["created_at"]),
        utc(m["updated_at"]),
    )


def _key(row: Any) -> KeyRecord:
    m = row._mapping
    return KeyRecord(
        m["id"],
        m["name"],
        Role(m["role"]),
        m["team"],
        m["created_by"],
        utc(m["created_at"]),
        aware(m["expires_at"]),
        aware(m["revoked_at"]),
    )


# Users ----------------------------------------------------------------------------------------


async def create_user(
    store: Store, name: str, password: str, role: Role, team: str = DEFAULT_TEAM
) -> UserRecord:
    """Add a user with an argon2 hash of ``password``; ``AccountError`` if the name is taken."""
    name = name.strip()
    if not name or len(name) > 255:
        raise AccountError("a user name must be 1 to 255 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password must have at least {MIN_PASSWORD_LENGTH} characters")
    at = now()
    user_id = uuid.uuid4().hex
    values: dict[str, Any] = {
        "id": user_id,
        "name": name,
        "password_hash": await hash_password_async(password),
        "role": role.value,
        "team": team,
        "disabled": False,
        "created_at": at,
        "updated_at": at,
    }
    try:
        await write(store, execute, insert(users), values)
    except IntegrityError:
        raise AccountExistsError(f"a user named {name!r} already exists") from None
    return UserRecord(user_id, name, role, team, False, at, at)


async def get_user(store: Store, user_id: str) -> UserRecord | None:
    try:
        key = uuid.UUID(user_id).hex
    except ValueError:
        return None
    async with connect(store) as conn:
        row = (await conn.execute(select(users).where(users.c.id == key))).first()
    return None if row is None else _user(row)


async def list_users(store: Store, *, limit: int, offset: int) -> list[UserRecord]:
    query = select(users).order_by(users.c.name).limit(limit).offset(offset)
    async with connect(store) as conn:
        return [_user(row) for row in (await conn.execute(query)).all()]


async def authenticate_user(store: Store, name: str, password: str) -> UserRecord | None:
    """The user if ``password`` is theirs and they are enabled; None otherwise (same cost either way)."""
    async with connect(store) as conn:
        row = (await conn.execute(select(users).where(users.c.name == name))).first()
    password_hash = row._mapping["password_hash"] if row is not None else None
    if not await verify_password(password_hash, password) or row is None:
        return None
    user = _user(row)
    return None if user.disabled else user


async def update_user(
    store: Store,
    user_id: str,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> UserRecord | None:
    """Change a user; bumps ``updated_at`` so every token issued before is refused."""
    values: dict[str, Any] = {"updated_at": now()}
    if role is not None:
        values["role"] = role.value
    if disabled is not None:
        values["disabled"] = disabled
    if password is not None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"a password must have at least {MIN_PASSWORD_LENGTH} characters")
        values["password_hash"] = await hash_password_async(password)
    user = await get_user(store, user_id)
    if user is None:
        return None
    await write(store, execute, update(users).where(users.c.id == user.id).values(values))
    return await get_user(store, user_id)


# API keys -------------------------------------------------------------------------------------


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != 16 or not secret or len(secret) > 128:
        return None
    return key_id, secret


async def create_key(
    store: Store,
    name: str,
    role: Role,
    *,
    team: str = DEFAULT_TEAM,
    created_by: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[KeyRecord, str]:
    """A new key and its full text (shown once; only its hash is kept)."""
    name = name.strip()
    if not name or len(name) > 255:
        raise AccountError("a key name must be 1 to 255 characters")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    at = now()
    await write(
        store,
        execute,
        insert(api_keys),
        {
            "id": key_id,
            "name": name,
            "role": role.value,
            "team": team,
            "secret_hash": _secret_hash(secret),
            "created_by": created_by,
            "created_at": at,
            "expires_at": expires_at,
            "revoked_at": None,
        },
    )
    record = KeyRecord(key_id, name, role, team, created_by, at, expires_at, None)
    return record, f"{KEY_PREFIX}{key_id}_{secret}"


async def verify_key(store: Store, key: str) -> KeyRecord | None:
    """The key's record if ``key`` is a live key (right secret, not revoked, not expired)."""
    parts = split_key(key)
    if parts is None:
        return None
    key_id, secret = parts
    async with connect(store) as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    if row is None or not hmac.compare_digest(row._mapping["secret_hash"], _secret_hash(secret)):
        return None
    record = _key(row)
    if record.revoked_at is not None or (record.expires_at is not None and record.expires_at <= now()):
        return None
    return record


async def get_key(store: Store, key_id: str) -> KeyRecord | None:
    async with connect(store) as conn:
        row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return None if row is None else _key(row)


async def list_keys(store: Store, *, limit: int, offset: int) -> list[KeyRecord]:
    query = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id).limit(limit).offset(offset)
    async with connect(store) as conn:
        return [_key(row) for row in (await conn.execute(query)).all()]


async def revoke_key(store: Store, key_id: str) -> KeyRecord | None:
    """Revoke a key (idempotent); None if there is no such key."""
    record = await get_key(store, key_id)
    if record is None:
        return None
    if record.revoked_at is None:
        await write(store, execute, update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now()))
    return await get_key(store, key_id)
