"""``cadenza db``: the database behind durable runs (``upgrade``, ``status``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from cadenza.cli.exit_codes import EXIT_FAILED, EXIT_USAGE

if TYPE_CHECKING:
    from cadenza.store import Store

T = TypeVar("T")

db_app = typer.Typer(help="The database behind durable runs.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", "--url", help="Database URL (default: $CADENZA_DATABASE_URL or the SQLite file)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one machine-readable JSON document.")]


def with_store(url: str | None, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``url`` (see ``database_url``), do ``work``, close it: one command's
    use of the database."""
    from cadenza.store import Store

    async def main() -> T:
        async with await Store.open(database_url(url)) as store:
            return await work(store)

    return asyncio.run(main())


def database_url(explicit: str | None = None) -> str:
    """The database to use: ``--database-url``, ``$CADENZA_DATABASE_URL``, the config file's
    ``database_url``, else the SQLite file in the user's data directory."""
    from cadenza.store.url import DATABASE_URL_ENV, default_database_url

    if explicit:
        return explicit
    if os.environ.get(DATABASE_URL_ENV):
        return os.environ[DATABASE_URL_ENV]
    try:
        from cadenza.config import get_settings

        settings = get_settings()
        if "database_url" in settings.model_fields_set:
            return str(settings.database_url)
    except Exception:  # a broken config file is reported by the commands that need it
        pass
    return default_database_url()


@contextmanager
def store_errors(console: Console, as_json: bool) -> Iterator[None]:
    """Cadenza errors as a message (or a JSON document) and a non-zero exit, never a traceback.

    Bad input (unknown run, wrong state, unreachable database, schema mismatch) exits with 2;
    anything else that went wrong exits with 1.
    """
    from cadenza.errors import CadenzaError, ConfigurationError

    usage: tuple[type[Exception], ...] = (ConfigurationError, *run_input_errors())
    try:
        yield
    except CadenzaError as exc:
        from cadenza.cli.render import error_document, print_error, print_json

        code = EXIT_USAGE if isinstance(exc, usage) else EXIT_FAILED
        if as_json:
            print_json({"status": "error", "error": error_document(exc)})
        else:
            print_error(console, exc)
        raise typer.Exit(code) from None


def run_input_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the command was wrong for the run or the database (exit 2, nothing ran):
    unknown run, wrong state, leased, not drivable, unreachable database, schema mismatch."""
    from cadenza.durable.errors import DurableRunError
    from cadenza.store.errors import RunLeasedError, RunNotFoundError, RunStateError, StoreError

    return (DurableRunError, RunLeasedError, RunNotFoundError, RunStateError, StoreError)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


@db_app.command()
def upgrade(url: UrlOpt = None, json_output: JsonOpt = False) -> None:
    """Create or upgrade the schema to this version of Cadenza (needed once for PostgreSQL)."""
    from cadenza.cli.render import print_json
    from cadenza.store.url import redact

    target = database_url(url)
    with store_errors(stderr(), json_output):
        before, after = asyncio.run(_unchecked(target, lambda store: store.upgrade()))
    if json_output:
        print_json({"status": "ok", "database": redact(target), "from": before, "to": after})
    elif before == after:
        stderr().print(f"[green]✓[/] {redact(target)} is up to date (revision {after})")
    else:
        stderr().print(f"[green]✓[/] {redact(target)} upgraded from {before or 'empty'} to revision {after}")


async def _unchecked(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    """``work`` on a store whose schema is not checked (what ``upgrade`` and ``status`` inspect)."""
    from cadenza.store import Store

    store = Store.unchecked(url)
    try:
        return await work(store)
    finally:
        await store.engine.dispose()


@db_app.command()
def status(url: UrlOpt = None, json_output: JsonOpt = False) -> None:
    """Show the database, its schema revision and the revision this code needs."""
    from cadenza.cli.render import print_json
    from cadenza.store import migrate
    from cadenza.store.url import redact

    target = database_url(url)
    with store_errors(stderr(), json_output):
        found = asyncio.run(_unchecked(target, lambda store: store.schema_revision()))
    current = found == migrate.HEAD
    if json_output:
        print_json(
            {"database": redact(target), "revision": found, "expected": migrate.HEAD, "up_to_date": current}
        )
        return
    mark = "[green]✓ up to date[/]" if current else "[yellow]! needs `cadenza db upgrade`[/]"
    stderr().print(f"{redact(target)}: revision {found or 'none'} (this code needs {migrate.HEAD}) {mark}")
