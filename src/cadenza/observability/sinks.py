"""The sinks every run gets without asking: tracing when a tracer provider is set, plus any an
application registered (metrics, JSON logs).

``RunState`` calls ``observer_sinks`` once per run. It must stay cheap: with nothing enabled it
is a dictionary lookup and an empty loop. ``register_observer`` is the explicit registry (the
one kind of global state the style allows) that ``enable_metrics()`` and ``enable_event_logs()``
add themselves to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cadenza.types.events import Event

log = logging.getLogger("cadenza.observability")
_reported: set[tuple[str, str]] = set()

Sink = Callable[[Event], None]
#: Given a run's id and workflow name, a sink for that run (or None to skip it).
ObserverFactory = Callable[[str, str], Sink | None]

_observers: list[ObserverFactory] = []


def register_observer(factory: ObserverFactory) -> None:
    """Give every run started from now on the sink ``factory(run_id, workflow)`` returns."""
    if factory not in _observers:
        _observers.append(factory)


def unregister_observer(factory: ObserverFactory) -> None:
    if factory in _observers:
        _observers.remove(factory)


def observer_sinks(run_id: str, workflow: str) -> list[Sink]:
    """The observing sinks for a new run: a tracing sink when tracing is active, then the rest."""
    from cadenza.observability.tracing import tracing_active

    sinks: list[Sink] = []
    if tracing_active():
        from cadenza.observability.tracing import TracingSink

        sinks.append(TracingSink())
    for factory in _observers:
        sink = factory(run_id, workflow)
        if sink is not None:
            sinks.append(sink)
    return sinks


def sink_failed(sink: str, event: Event, exc: Exception) -> None:
    """Observing must never break a run: a failing sink is logged (once per sink and error type)
    and the run goes on."""
    key = (sink, type(exc).__name__)
    if key in _reported:
        return
    _reported.add(key)
    log.warning(
        "%s sink failed on a %s event (run %s, %s): %s: %s; the run goes on",
        sink,
        type(event).__name__,
        event.run_id,
        event.path,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
