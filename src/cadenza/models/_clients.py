"""One pooled SDK client per configuration, per event loop, built on first use.

An SDK client owns an HTTP connection pool, and a pool belongs to the event loop that opened its
connections; so clients are kept per running loop (weakly: a closed, dropped loop takes its
clients with it) and, within a loop, per configuration key (provider, base URL, key, ...).
Building a client per call would pay TLS set-up and pool creation on every model call.
"""

from __future__ import annotations

import asyncio
import importlib
import weakref
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Any]] = (
    weakref.WeakKeyDictionary()
)


_imported: dict[str, ModuleType] = {}


async def import_sdk(name: str) -> ModuleType:
    """Import a provider SDK off the event loop, once per process.

    The SDKs take 0.5-3 s to import; doing that on the loop would freeze every other run (and
    an API server's requests) during the first call. Concurrent first calls are safe: Python's
    per-module import locks make the later threads wait for the first import to finish.
    """
    module = _imported.get(name)
    if module is None:
        module = await asyncio.to_thread(importlib.import_module, name)
        _imported[name] = module
    return module


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
