"""Render results and errors for people (Rich) and for scripts (JSON): never a traceback."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from rich.console import Console
from rich.text import Text

from cadenza.cli.execute import RunOutcome
from cadenza.types.events import jsonable  # models dumped, Decimals as strings

_HIDDEN_FIELDS = {"args", "result", "state", "last_good_output", "errors", "raw", "problems"}


def error_fields(error: BaseException) -> dict[str, Any]:
    """The structured facts a Cadenza error carries (file, line, model, path, status, ...)."""
    fields = {
        k: jsonable(v)
        for k, v in vars(error).items()
        if not k.startswith("_") and k not in _HIDDEN_FIELDS and v is not None
    }
    problems = getattr(error, "problems", None)
    if problems:
        fields["problems"] = [dataclasses.asdict(p) for p in problems]
    return fields


def error_document(error: BaseException) -> dict[str, Any]:
    return {"type": type(error).__name__, "message": str(error), **error_fields(error)}


def outcome_document(outcome: RunOutcome, workflow: str) -> dict[str, Any]:
    """The ``--json`` result of a run."""
    t = outcome.tracker
    error: dict[str, Any] | None = None
    if outcome.error is not None:
        error = error_document(outcome.error)
    elif t.error:
        error = {"type": t.error_type or "CancelledError", "message": t.error}
    return {
        "run_id": t.run_id,
        "workflow": workflow,
        "status": t.status,
        "output": jsonable(t.output),
        "usage": dataclasses.asdict(t.usage),
        "cost_usd": str(t.cost),
        "duration_s": round(t.duration or 0.0, 6),
        "model_calls": t.model_calls,
        "tool_calls": t.tool_calls,
        "error": error,
        "steps": [
            {
                "path": s.path,
                "name": s.name,
                "kind": s.kind,
                "status": s.status,
                "duration_s": round(s.duration, 6) if s.duration is not None else None,
                "tokens": s.tokens,
                "cost_usd": str(s.cost),
            }
            for s in t.steps.values()
        ],
    }


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_output(output: Any) -> None:
    """The final output on stdout, plain: text as it is, anything else as JSON."""
    if isinstance(output, str):
        print(output)
    else:
        print_json(jsonable(output))


def print_summary(console: Console, outcome: RunOutcome) -> None:
    t = outcome.tracker
    icon, style = {"succeeded": ("✓", "green"), "cancelled": ("■", "magenta")}.get(t.status, ("✗", "red"))
    line = Text.assemble(
        (f"{icon} {t.status}", f"bold {style}"),
        f" in {t.duration or 0:.2f} s · {t.model_calls} model call(s) · {t.tool_calls} tool call(s) · "
        f"{t.usage.total_tokens:,} tokens · ${t.cost:.6f}",
    )
    console.print(line)
    if outcome.error is not None:
        print_error(console, outcome.error)
    elif t.status != "succeeded" and t.error:
        console.print(Text(f"  {t.error}", style=style))


def print_error(console: Console, error: BaseException) -> None:
    """A Cadenza error for people: its kind, its message, and its structured facts."""
    problems = getattr(error, "problems", None)
    if problems:
        count = len(problems)
        console.print(
            Text(
                f"✗ {getattr(error, 'file', '')}: {count} problem{'s' if count != 1 else ''}",
                style="bold red",
            )
        )
        for p in problems:
            text = Text(f"  {p.file}:{p.line}:{p.column} ", style="cyan")
            text.append(p.key or "(top level)", style="bold")
            text.append(f": {p.message}")
            if p.value is not None:
                text.append(f" (got {p.value})", style="yellow")
            if p.expected:
                text.append(f"\n      expected {p.expected}", style="dim")
            console.print(text, soft_wrap=True)
        return
    console.print(Text.assemble((f"✗ {type(error).__name__}: ", "bold red"), str(error)), soft_wrap=True)
    for key, value in error_fields(error).items():
        if key not in ("detail",):
            console.print(Text(f"  {key}: {value}", style="dim"), soft_wrap=True)
