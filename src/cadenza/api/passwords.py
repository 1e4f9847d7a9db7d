"""Password hashing with argon2id (argon2-cffi), off the event loop.

Hashing is deliberately slow (tens of milliseconds of CPU), so it runs in a worker thread. A
login for an unknown user still verifies against a dummy hash, so response time does not tell
which user names exist.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("cadenza-no-such-user")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; ``None`` (no such user) costs the same and is False."""
    return await asyncio.to_thread(_verify, password_hash, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)
