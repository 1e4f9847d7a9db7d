"""``cadenza costs`` (the cost ledger by run, agent, workflow, model, user or day) and
``cadenza metrics`` (Prometheus text of the stored runs and ledger)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cadenza.cli.db import JsonOpt, UrlOpt, stderr, store_errors, with_store

if TYPE_CHECKING:
    pass

T = TypeVar("T")

costs_app = typer.Typer(help="What runs cost, from the ledger: by agent, workflow, model, user, day or run.")
metrics_app = typer.Typer(help="Prometheus metrics of the stored runs and the cost ledger.")

SinceOpt = Annotated[
    str, typer.Option("--since", help="Window start: 30m, 12h, 7d, 2w or an ISO date ('' for all time).")
]


@costs_app.callback(invoke_without_command=True)
def costs(
    by: Annotated[
        str, typer.Option("--by", help="Group by run, agent, workflow, model, user or day.")
    ] = "model",
    since: SinceOpt = "7d",
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", help="Only this workflow.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    url: UrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Tokens and cost from the ledger, most expensive first, with the total."""
    from cadenza.cli.render import print_json
    from cadenza.observability.ledger import cost_report

    with store_errors(stderr(), json_output):
        report = with_store(
            url,
            lambda store: cost_report(store, by=by, since=since or None, workflow=workflow, run_id=run_id),
        )
    if json_output:
        print_json(report.to_dict())
        return
    if not report.lines:
        stderr().print(f"no model calls in the ledger{' since ' + since if since else ''}")
        return
    table = Table(box=None, header_style="bold")
    for column in (by, "runs", "calls", "input tok", "output tok", "cost (USD)"):
        table.add_column(column, justify="left" if column == by else "right")
    for line in [*report.lines, report.total]:
        table.add_row(
            f"[bold]{line.key}[/]" if line is report.total else line.key,
            str(line.runs),
            str(line.calls),
            f"{line.input_tokens:,}",
            f"{line.output_tokens:,}",
            f"{line.cost:.6f}",
        )
    Console(highlight=False).print(table)


@metrics_app.callback(invoke_without_command=True)
def metrics(url: UrlOpt = None) -> None:
    """Print the stored runs and ledger in Prometheus text format."""
    from cadenza.observability.store_metrics import store_metrics

    with store_errors(stderr(), False):
        text = with_store(url, store_metrics)
    print(text, end="")
