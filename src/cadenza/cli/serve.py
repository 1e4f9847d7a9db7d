"""``cadenza serve``: the HTTP service under uvicorn."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cadenza.cli.db import UrlOpt, database_url, stderr, store_errors


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    url: UrlOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Run every agent on this model (e.g. offline).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the HTTP API (workflows, agents, runs, streaming, users, keys, audit)."""
    import uvicorn
    from pydantic import ValidationError

    from cadenza.api.app import create_app
    from cadenza.api.settings import ApiSettings
    from cadenza.engine.tuning import tune_gc_for_throughput

    try:
        overrides: dict[str, object] = {"database_url": database_url(url)}
        if model:
            overrides["model_override"] = model
        settings = ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            field = "_".join(str(p) for p in error["loc"]).upper()
            stderr().print(f"[bold red]✗[/] CADENZA_{field}: {error['msg']}")
        raise typer.Exit(2) from None
    with store_errors(stderr(), False):
        from cadenza.config import get_settings

        get_settings()  # a bad config file is a message here; the app applies its prices at start
        # Refuse to start on an unreachable database or an old schema with a message, not a traceback.
        asyncio.run(_check_database(settings.database_url))
    app = create_app(settings)
    tune_gc_for_throughput()
    stderr().print(f"[green]✓[/] serving on http://{host}:{port} (OpenAPI at /docs)")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)


async def _check_database(url: str) -> None:
    from cadenza.store import Store

    store = await Store.open(url)
    await store.close()
