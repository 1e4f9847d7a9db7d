"""Per-caller rate limits: a token bucket per API key, user or (unauthenticated) client address.

Buckets live in this process (a limit per instance); the table is capped so a flood of distinct
callers cannot grow it without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_BUCKETS = 50_000


class RateLimiter:
    """``take(key)`` spends one token from ``key``'s bucket; returns seconds to wait, 0.0 if allowed."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        now = time.monotonic()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
