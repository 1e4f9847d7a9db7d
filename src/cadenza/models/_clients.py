"""One pooled SDK client per configuration, per event loop, built on first use.

An SDK client owns an HTTP connection pool, and a pool belongs to the event loop that opened its
connections; so clients are kept per running loop (weakly: a closed, dropped loop takes its
clients with it) and, within a loop, per configuration key (provider, base URL, key, ...).
Building a client per call would pay TLS set-up and pool creation on every model call.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Any]] = (
    weakref.WeakKeyDictionary()
)


def pooled_client(key: Hashable, build: Callable[[], T]) -> T:
    """The client for ``key`` on the running loop, built with ``build()`` the first time."""
    loop = asyncio.get_running_loop()
    clients = _pools.get(loop)
    if clients is None:
        clients = _pools[loop] = {}
    client = clients.get(key)
    if client is None:
        client = clients[key] = build()
    return client


def pooled_count() -> int:
    """How many clients the running loop holds (for tests and diagnostics)."""
    return len(_pools.get(asyncio.get_running_loop(), {}))


async def close_clients() -> None:
    """Close every client of the running loop (call before the loop ends for a clean shutdown)."""
    clients = _pools.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        close = getattr(client, "close", None)
        if close is not None:
            await close()
