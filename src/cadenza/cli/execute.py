"""Run a loaded workflow for the CLI: stream its events into the live view and an outcome.

``execute_flow`` is the one place the CLI runs a workflow; durable runs and cost tracking extend
it here. Ctrl-C cancels the run's task: the stream cancels every in-flight model and tool call,
the run ends as ``cancelled``, and the outcome says so (exit code 130).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from cadenza.cli.exit_codes import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_WAITING
from cadenza.cli.view import RunTracker, RunView
from cadenza.workflows.workflow import Workflow


@dataclass
class RunOptions:
    """How the CLI runs a workflow."""

    live: bool = True
    console: Console | None = None
    run_id: str | None = None
    # Durable runs (cadenza.cli.runs.execute_durably): stored, journaled, resumable by id.
    durable: bool = False
    conversation: str | None = None
    model: str | None = None
    database_url: str | None = None


@dataclass
class RunOutcome:
    """How a run ended, as the CLI reports it."""

    tracker: RunTracker
    error: BaseException | None = None

    @property
    def status(self) -> str:
        return self.tracker.status

    @property
    def exit_code(self) -> int:
        from cadenza.errors import ConfigurationError

        if self.status == "succeeded":
            return EXIT_OK
        if self.status == "cancelled":
            return EXIT_CANCELLED
        if self.status == "waiting":
            return EXIT_WAITING
        if isinstance(self.error, ConfigurationError):
            return EXIT_USAGE
        return EXIT_FAILED


async def execute_flow(flow: Workflow, task: str, options: RunOptions) -> RunOutcome:
    """Run ``flow`` on ``task``, showing progress unless ``options.live`` is off."""
    tracker = RunTracker()
    live = _live(flow, tracker, options) if options.live else None
    error: BaseException | None = None
    try:
        if live is not None:
            live.start()
        if options.durable:
            from cadenza.cli.runs import execute_durably

            await execute_durably(flow, task, options, tracker.add)
        else:
            async for event in flow.stream(task, run_id=options.run_id):
                tracker.add(event)
    except asyncio.CancelledError:
        tracker.mark_cancelled()
    except Exception as exc:
        error = exc
        if tracker.status == "running":
            tracker.status, tracker.error, tracker.error_type = "failed", str(exc), type(exc).__name__
    finally:
        if live is not None:
            live.stop()
            if not live.console.is_terminal:
                live.console.line()  # a non-terminal gets one final drawing without a newline
    return RunOutcome(tracker, error)


def _live(flow: Workflow, tracker: RunTracker, options: RunOptions) -> Any:
    from rich.live import Live

    console = options.console or Console(stderr=True)
    return Live(RunView(tracker, flow.name), console=console, refresh_per_second=8, transient=False)
