"""Who is calling: a ``Principal`` from an API key (``X-API-Key``) or a JWT bearer token.

Verified API keys are cached for a few seconds (a key check is a database read and the hot path
of machine clients); revoking a key through this process drops it from the cache at once, other
instances see the revocation when their cache entry expires. Access tokens are checked against
the user's current record on every request: a disabled user, or a token issued before the user's
last change (role, password), is refused.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

from cadenza.api import accounts
from cadenza.api.errors import Unauthorized
from cadenza.api.roles import Role
from cadenza.api.tokens import InvalidToken, TokenIssuer
from cadenza.store import Store


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user or an API key, with its role and team."""

    kind: Literal["user", "key"]
    id: str
    name: str
    role: Role
    team: str

    @property
    def actor(self) -> str:
        """How the audit log names the caller: ``user:alice`` or ``key:<id>``."""
        return f"user:{self.name}" if self.kind == "user" else f"key:{self.id}"

    @property
    def sees_all_teams(self) -> bool:
        return self.role is Role.admin


class Authenticator:
    """Turns credentials into a ``Principal`` or raises ``Unauthorized``."""

    def __init__(self, store: Store, tokens: TokenIssuer, key_cache_seconds: float) -> None:
        self.store = store
        self.tokens = tokens
        self.key_cache_seconds = key_cache_seconds
        self._keys: dict[str, tuple[float, Principal]] = {}

    async def from_api_key(self, key: str) -> Principal:
        digest = hashlib.sha256(key.encode()).hexdigest()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        record = await accounts.verify_key(self.store, key)
        if record is None:
            self._keys.pop(digest, None)
            raise Unauthorized("invalid, revoked or expired API key")
        principal = Principal("key", record.id, record.name, record.role, record.team)
        if self.key_cache_seconds > 0:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (time.monotonic() + self.key_cache_seconds, principal)
        return principal

    def forget_key(self, key_id: str) -> None:
        """Drop a (revoked) key from the cache."""
        for digest, (_, principal) in list(self._keys.items()):
            if principal.id == key_id:
                del self._keys[digest]

    async def from_access_token(self, token: str) -> Principal:
        try:
            claims = self.tokens.decode(token, "access")
        except InvalidToken as exc:
            raise Unauthorized(str(exc)) from None
        user = await self.current_user(claims)
        return Principal("user", user.id, user.name, user.role, user.team)

    async def current_user(self, claims: dict[str, object]) -> accounts.UserRecord:
        """The enabled user a token's claims name, if the token postdates the user's last change."""
        user = await accounts.get_user(self.store, str(claims["sub"]))
        if user is None or user.disabled:
            raise Unauthorized("the token's user does not exist or is disabled")
        issued = claims["iat"]
        if not isinstance(issued, int) or issued < int(user.updated_at.timestamp()):
            raise Unauthorized("the token was issued before the account last changed; log in again")
        return user

    def issue_pair(self, user: accounts.UserRecord) -> tuple[str, str]:
        """(access token, refresh token) for ``user``."""
        claims = {"name": user.name, "role": user.role.value, "team": user.team}
        return self.tokens.issue(user.id, "access", claims), self.tokens.issue(user.id, "refresh", claims)
