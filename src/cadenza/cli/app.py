"""``cadenza``: run, validate and explore workflow files from a terminal.

Exit codes scripts can rely on: 0 ok, 1 the run failed, 2 bad input or usage, 130 cancelled.
Sub-apps plug in with one line: ``app.add_typer(runs_app, name="runs")``. Heavy modules
(pydantic, the engine, providers) are imported inside the commands so ``cadenza --help`` is fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from cadenza.cli.execute import RunOptions, RunOutcome
    from cadenza.workflows.workflow import Workflow

from cadenza.cli.exit_codes import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE

app = typer.Typer(
    name="cadenza",
    help="Cadenza: teams of LLM agents as workflows you can run, validate and watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

FlowArg = Annotated[str, typer.Argument(help="A workflow file (YAML or JSON).", metavar="FLOW")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one machine-readable JSON document.")]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def user_errors(console: Console, as_json: bool = False) -> Iterator[None]:
    """Turn Cadenza errors into a rendered message and exit code 2 (usage) or 1 (failure)."""
    from cadenza.errors import CadenzaError, ConfigurationError

    try:
        yield
    except CadenzaError as exc:
        from cadenza.cli.render import error_document, print_error, print_json

        code = EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_FAILED
        if as_json:
            print_json(
                {"status": "invalid" if code == EXIT_USAGE else "failed", "error": error_document(exc)}
            )
        else:
            print_error(console, exc)
        raise typer.Exit(code) from None


def _usage_error(console: Console, message: str, as_json: bool) -> typer.Exit:
    from cadenza.cli.render import print_json

    if as_json:
        print_json({"status": "invalid", "error": {"type": "UsageError", "message": message}})
    else:
        console.print(Text(f"✗ {message}", style="bold red"))
    return typer.Exit(EXIT_USAGE)


def _prepare() -> None:
    """Apply the settings: provider keys into the providers' variables, prices, the log level."""
    import logging

    from cadenza.config import get_settings

    settings = get_settings()
    settings.export_provider_env()
    settings.apply_prices()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")


def read_input(flow: Workflow, text: str | None, file: str | None) -> str | None:
    """The run's input: ``-i TEXT``, ``-f FILE`` (``-`` is stdin), piped stdin, or the file's example."""
    if text is not None and file is not None:
        raise ValueError("give the input with -i or -f, not both")
    if text == "-" or file == "-":
        return sys.stdin.read()
    if text is not None:
        return text
    if file is not None:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise ValueError(f"cannot read the input file {file}: {exc.strerror or exc}") from None
    if not sys.stdin.isatty():
        piped = sys.stdin.read()
        if piped.strip():
            return piped
    return flow.spec.example_input


def run_outcome(flow: Workflow, task: str, options: RunOptions) -> RunOutcome:
    """Drive ``execute_flow`` to completion; a second Ctrl-C still ends as a cancelled run."""
    import asyncio

    from cadenza.cli.execute import RunOutcome, execute_flow
    from cadenza.cli.view import RunTracker
    from cadenza.engine.tuning import tune_gc_for_throughput

    tune_gc_for_throughput()  # after loading the workflow: its objects are frozen out of the GC's view
    try:
        return asyncio.run(execute_flow(flow, task, options))
    except KeyboardInterrupt:
        tracker = RunTracker()
        tracker.mark_cancelled()
        return RunOutcome(tracker)


@app.command()
def run(
    flow: FlowArg,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="The task text ('-' reads stdin).")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Read the task from a file ('-' is stdin).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Use this model for every agent, e.g. offline.")
    ] = None,
    json_output: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view; only the output.")] = False,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation (a thread id).")
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not store the run (it cannot be resumed).")
    ] = False,
) -> None:
    """Run a workflow file and show its steps live; the output goes to stdout.

    The run is stored (``$CADENZA_DATABASE_URL`` or the SQLite file in the data directory): if it
    is interrupted, ``cadenza runs resume ID`` continues it.
    """
    from cadenza.cli.execute import RunOptions
    from cadenza.cli.render import outcome_document, print_json, print_output, print_summary
    from cadenza.workflows import load_workflow

    console = _stderr()
    with user_errors(console, json_output):
        _prepare()
        workflow = load_workflow(flow, model_override=model)
        try:
            task = read_input(workflow, input, file)
        except ValueError as exc:
            raise _usage_error(console, str(exc), json_output) from None
        if not task or not task.strip():
            raise _usage_error(
                console,
                "no input: give -i TEXT, -f FILE, pipe it on stdin, or set "
                "example_input in the workflow file",
                json_output,
            )
        outcome = run_outcome(
            workflow,
            task,
            RunOptions(
                live=not (json_output or quiet),
                console=console,
                durable=not no_store,
                conversation=conversation,
                model=model,
            ),
        )
    if json_output:
        print_json(outcome_document(outcome, workflow.name))
    else:
        if outcome.status == "succeeded":
            print_output(outcome.tracker.output)
        if not quiet or outcome.status != "succeeded":
            print_summary(console, outcome)
    raise typer.Exit(outcome.exit_code)


@app.command()
def validate(flow: FlowArg, json_output: JsonOpt = False) -> None:
    """Check a workflow file and show its structure; every problem is listed with its line."""
    from cadenza.cli.render import print_json
    from cadenza.cli.structure import structure_tree, summarize
    from cadenza.workflows import load_workflow

    console = _stderr()
    with user_errors(console, json_output):
        workflow = load_workflow(flow)
    if json_output:
        print_json({"status": "valid", "workflow": workflow.name, **summarize(workflow.step)})
        return
    out = Console(highlight=False)
    out.print(Text(f"✓ {flow} is valid", style="bold green"))
    out.print(structure_tree(workflow))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workflow file format (for editors and CI)."""
    from cadenza.workflows.schema import schema_text

    sys.stdout.write(schema_text())


@app.command()
def demo(
    json_output: JsonOpt = False,
) -> None:
    """Run the market-analysis example offline (all four patterns nested) and explain it."""
    from cadenza.cli.demo import run_demo

    run_demo(_stderr(), json_output)


@app.command()
def version() -> None:
    """Print the Cadenza version."""
    import platform

    from cadenza import __version__

    print(f"cadenza {__version__} (Python {platform.python_version()})")


from cadenza.cli.db import db_app  # noqa: E402 - sub-apps register after the commands above
from cadenza.cli.runs import runs_app  # noqa: E402

app.add_typer(runs_app, name="runs")
app.add_typer(db_app, name="db")

from cadenza.cli.serve import serve  # noqa: E402
from cadenza.cli.users import keys_app, users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.command("serve")(serve)

from cadenza.cli.agents import agents_app  # noqa: E402
from cadenza.cli.costs import costs_app, metrics_app  # noqa: E402

app.add_typer(costs_app, name="costs")
app.add_typer(metrics_app, name="metrics")
app.add_typer(agents_app, name="agents")


def main() -> Any:
    """The console-script entry point: no tracebacks for users (set CADENZA_DEBUG=1 to see them)."""
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(EXIT_CANCELLED)
    except Exception as exc:
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):  # a usage error of Typer's (vendored) click
            show()
            sys.exit(exit_code)
        if os.environ.get("CADENZA_DEBUG"):
            raise
        _stderr().print(
            Text.assemble(
                (f"✗ internal error: {type(exc).__name__}: {exc}\n", "bold red"),
                "  This is a bug in Cadenza; set CADENZA_DEBUG=1 to see the traceback and report it.",
            )
        )
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
