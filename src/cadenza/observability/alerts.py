"""Budget alerts to a webhook: a JSON POST per ``BudgetWarning``, off the event loop.

The engine's budget tracker calls ``post_alert`` when a threshold is crossed; an application can
also use ``WebhookAlerts(url)`` as a run sink to forward the warnings of runs it starts. Delivery
uses the standard library in a worker thread (no HTTP client dependency, never blocking the
loop); a failed delivery is logged, never raised into the run. ``flush_alerts()`` waits for the
deliveries in flight (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.request
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from cadenza.types.events import BudgetWarning, Event, event_to_dict

log = logging.getLogger("cadenza.alerts")

_TIMEOUT = 5.0
_executor: ThreadPoolExecutor | None = None
_pending: set[Future[None]] = set()
_lock = threading.Lock()


def post_alert(url: str, warning: BudgetWarning, headers: Mapping[str, str] | None = None) -> None:
    """Deliver ``warning`` as JSON to ``url`` in the background."""
    body = json.dumps({"kind": "budget_warning", **event_to_dict(warning)}).encode()
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cadenza-alerts")
        future = _executor.submit(_deliver, url, body, dict(headers or {}))
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def _deliver(url: str, body: bytes, headers: dict[str, str]) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            response.read()
    except Exception as exc:  # a webhook that is down must not fail the run
        log.warning("budget alert webhook %s failed: %s", url, exc)


async def flush_alerts(timeout: float = _TIMEOUT) -> None:
    """Wait until every alert posted so far was delivered (or failed)."""
    with _lock:
        pending = list(_pending)
    if pending:
        await asyncio.wait([asyncio.wrap_future(f) for f in pending], timeout=timeout)


class WebhookAlerts:
    """A run sink that POSTs every ``BudgetWarning`` of the run to ``url``."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.headers = dict(headers or {})

    def __call__(self, event: Event) -> None:
        if isinstance(event, BudgetWarning):
            post_alert(self.url, event, self.headers)
