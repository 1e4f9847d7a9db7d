"""Audit rows for the CLI commands that change security or run state.

``cadenza users``/``keys`` and ``cadenza runs cancel|approve|reject|resume|fork`` change what the
HTTP service audits when done through the API, so the same change made from a shell is recorded
in the same append-only table (``cadenza.api.audit.record_cli``), refusals included. The row is
committed before the command reports, like the API's rows before their response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cadenza.store import Store

T = TypeVar("T")
log = logging.getLogger("cadenza.cli.audit")

# The HTTP status the API answers for the same refusal: the rows' outcomes then mean the same.
_REFUSALS: tuple[tuple[str, int], ...] = (
    ("AccountExistsError", 409),
    ("AccountError", 422),
    ("RunNotFoundError", 404),
    ("RunLeasedError", 409),
    ("RunStateError", 409),
    ("DurableRunError", 409),
    ("StaleAttemptError", 409),
    ("ConfigurationError", 422),
)


def refusal_status(exc: BaseException) -> int | None:
    """The status of a refused command (by the error's class or a base class), None otherwise."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, status in _REFUSALS:
        if name in names:
            return status
    return None


async def audited(
    store: Store,
    work: Awaitable[T],
    *,
    action: str,
    command: str,
    target: str | None,
    success: int = 200,
    detail: Callable[[T], dict[str, Any]] | None = None,
    drives: bool = False,
) -> T:
    """Await ``work`` and record its outcome; its result or error is passed on unchanged.

    With ``drives`` (resume, fork, a decision that resumes) the command's job is to drive the run:
    a run that then fails, waits or is rejected is a successful command whose row says how the run
    ended (``detail.run_status``); only refusals (unknown run, wrong state, leased) are rejected.
    """
    try:
        result = await work
    except BaseException as exc:
        status = refusal_status(exc)
        extra: dict[str, Any] = {"error": (str(exc) or type(exc).__name__)[:1000]}
        if status is None and drives:
            status = success
            run_status = getattr(exc, "run_status", None)
            if run_status is None:
                interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
                run_status = "interrupted" if interrupted else "failed"
            extra["run_status"] = str(run_status)
        await _record(store, action, command, target, status or 500, extra)
        raise
    await _record(store, action, command, target, success, detail(result) if detail else None)
    return result


async def _record(
    store: Store, action: str, command: str, target: str | None, status: int, detail: dict[str, Any] | None
) -> None:
    from cadenza.api.audit import record_cli

    try:
        await asyncio.shield(
            record_cli(store, action=action, command=command, target=target, status=status, detail=detail)
        )
    except (Exception, asyncio.CancelledError) as exc:  # made or refused either way: say the row is missing
        log.error("audit row for %r could not be written: %s", command, exc)
