"""Durable runs: the journal, the run driver (start, resume, recover, fork), approvals and
conversations.

``Approval`` is light and re-exported from ``cadenza``; the driver functions import SQLAlchemy
and are loaded on first use::

    from cadenza.durable import run_durable, resume_run
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cadenza.durable.approval import Approval
from cadenza.durable.errors import ApprovalRejected, ApprovalRequired, DurableRunError, InFlightToolError

if TYPE_CHECKING:
    from cadenza.durable.driver import fork_run, recover_runs, resume_run, run_durable

_LAZY = {"run_durable", "resume_run", "fork_run", "recover_runs"}

__all__ = [
    "Approval",
    "ApprovalRejected",
    "ApprovalRequired",
    "DurableRunError",
    "InFlightToolError",
    "fork_run",
    "recover_runs",
    "resume_run",
    "run_durable",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from cadenza.durable import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'cadenza.durable' has no attribute {name!r}")
