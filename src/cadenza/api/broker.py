"""Live events of the runs this process drives, for SSE and WebSocket subscribers.

Each active run keeps the events of its current attempt in memory (so a subscriber that arrives
late misses nothing that is not yet committed to the store) and hands every new event to its
subscribers' queues. When the run's driver returns, everything is in the store and the buffer is
dropped: memory per finished run is zero.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cadenza.types.events import Event, TextDelta, event_to_dict

_CLOSED = None


@dataclass(slots=True)
class _Live:
    seq: int
    events: list[tuple[int, Event]] = field(default_factory=list)
    queues: list[asyncio.Queue[tuple[int, Event] | None]] = field(default_factory=list)


def event_payload(seq: int, event: Event) -> dict[str, Any]:
    data = event_to_dict(event)
    data.pop("run_id", None)
    if seq:
        data["seq"] = seq
    return data


class Broker:
    """Per-run fan-out of live events; ``seq`` numbers match the stored events' ``seq``."""

    def __init__(self) -> None:
        self._runs: dict[str, _Live] = {}

    def open(self, run_id: str, last_seq: int) -> Any:
        """Start buffering ``run_id`` (its stored events end at ``last_seq``); returns its sink."""
        live = _Live(last_seq)
        self._runs[run_id] = live

        def sink(event: Event) -> None:
            # Text deltas are live-only (not stored): they carry seq 0 and never move the cursor.
            item: tuple[int, Event]
            if isinstance(event, TextDelta):
                item = (0, event)
            else:
                live.seq += 1
                item = (live.seq, event)
                live.events.append(item)
            for queue in live.queues:
                queue.put_nowait(item)

        return sink

    def close(self, run_id: str) -> None:
        live = self._runs.pop(run_id, None)
        if live is not None:
            for queue in live.queues:
                queue.put_nowait(_CLOSED)

    def subscribe(
        self, run_id: str
    ) -> tuple[list[tuple[int, Event]], asyncio.Queue[tuple[int, Event] | None]] | None:
        """(buffered events, queue of the next ones) of a live run; None if it is not live here."""
        live = self._runs.get(run_id)
        if live is None:
            return None
        queue: asyncio.Queue[tuple[int, Event] | None] = asyncio.Queue()
        live.queues.append(queue)
        return list(live.events), queue

    def unsubscribe(self, run_id: str, queue: asyncio.Queue[Any]) -> None:
        live = self._runs.get(run_id)
        if live is not None and queue in live.queues:
            live.queues.remove(queue)
