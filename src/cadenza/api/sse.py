"""A run's event feed for streams: stored history first, then live events, without gaps.

``event_feed`` subscribes to the run's live events (if this process drives it) *before* reading
the stored history, then yields history, the live buffer and new events, each ``seq`` once and
in order. A run driven by another process (or none) is followed by polling the store until it
stops. ``seq`` is the event id of Server-Sent Events, so a client reconnecting with
``Last-Event-ID`` continues where it left off.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from cadenza.api.broker import Broker, event_payload
from cadenza.store import Store
from cadenza.store.records import FINISHED

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Statuses after which no event comes without someone acting (resume, approve).
STOPPED = frozenset((*FINISHED, "waiting", "needs_attention"))


async def event_feed(
    store: Store, broker: Broker, run_id: str, after: int
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """(seq, event data) of ``run_id`` after ``after``; text deltas (live only) have seq 0."""
    last = after
    subscription = broker.subscribe(run_id)
    try:
        if subscription is None:
            async for item in _poll(store, run_id, last):
                yield item
            return
        buffered, queue = subscription
        for event in await store.list_events(run_id, after=last):
            last = event["seq"]
            yield last, event
        for seq, live in buffered:
            if seq > last:
                last = seq
                yield seq, event_payload(seq, live)
        while (next_item := await queue.get()) is not None:
            seq, live = next_item
            if seq == 0:
                yield 0, event_payload(0, live)
            elif seq > last:
                last = seq
                yield seq, event_payload(seq, live)
        # The driver finished here; anything it stored that we did not see live (none expected).
        for event in await store.list_events(run_id, after=last):
            last = event["seq"]
            yield last, event
    finally:
        if subscription is not None:
            broker.unsubscribe(run_id, subscription[1])


async def _poll(store: Store, run_id: str, last: int) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    while True:
        record = await store.get_run(run_id)  # read the status first: events stored before it are all seen
        for event in await store.list_events(run_id, after=last):
            last = event["seq"]
            yield last, event
        if record.status in STOPPED:
            return
        await asyncio.sleep(POLL_SECONDS)


def sse_message(seq: int, data: dict[str, Any]) -> str:
    """One Server-Sent Event; live-only events (seq 0) carry no id so they never move the cursor."""
    head = f"id: {seq}\n" if seq else ""
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"{head}event: {data.get('type', 'message')}\ndata: {body}\n\n"


async def with_keepalive(feed: AsyncIterator[tuple[int, dict[str, Any]]]) -> AsyncIterator[str]:
    """SSE text of ``feed``, with a comment line whenever it is idle (keeps proxies from closing it)."""
    iterator = feed.__aiter__()
    pending: asyncio.Task[tuple[int, dict[str, Any]]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keep-alive\n\n"
                continue
            try:
                seq, data = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield sse_message(seq, data)
    finally:
        if pending is not None:
            pending.cancel()
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
