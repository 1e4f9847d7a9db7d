"""``cadenza agents stats``: each agent's success rate, latency, tokens, cost and confidence."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza.cli.costs import SinceOpt
from cadenza.cli.db import JsonOpt, UrlOpt, stderr, store_errors, with_store

agents_app = typer.Typer(help="Agents: how they perform over time.", no_args_is_help=True)


@agents_app.command()
def stats(
    since: SinceOpt = "7d",
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent.")] = None,
    by_day: Annotated[bool, typer.Option("--by-day", help="One line per agent and day.")] = False,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Success rate, latency p50/p95, tokens, cost and mean confidence per agent (stored runs)."""
    from cadenza.cli.render import print_json
    from cadenza.observability.performance import PerformanceTracker

    with store_errors(stderr(), json_output):
        rows = with_store(
            url,
            lambda store: PerformanceTracker(store).stats(since=since or None, agent=agent, by_day=by_day),
        )
    if json_output:
        print_json({"since": since or None, "agents": [row.to_dict() for row in rows]})
        return
    if not rows:
        stderr().print(f"no agent invocations stored{' since ' + since if since else ''}")
        return
    table = Table(box=None, header_style="bold")
    columns = [
        "agent",
        *(["day"] if by_day else []),
        "calls",
        "success",
        "p50 s",
        "p95 s",
        "tokens",
        "cost (USD)",
        "confidence",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column in {"agent", "day"} else "right")
    for row in rows:
        cells = [row.agent, *([row.day or ""] if by_day else [])]
        cells += [
            str(row.invocations),
            f"{row.success_rate:.0%}",
            f"{row.latency_p50:.3f}",
            f"{row.latency_p95:.3f}",
            f"{row.input_tokens + row.output_tokens:,}",
            f"{row.cost:.6f}",
            "-" if row.mean_confidence is None else f"{row.mean_confidence:.2f}",
        ]
        table.add_row(*cells)
    Console(highlight=False).print(table)
