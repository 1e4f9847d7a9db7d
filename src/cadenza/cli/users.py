"""``cadenza users`` and ``cadenza keys``: bootstrap and manage who may use the HTTP service.

There are no default credentials: the first admin is made here. ``keys create`` prints the new
key once, as the last line of its output, so scripts can take it with ``tail -n 1``.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Annotated

import typer

from cadenza.cli.db import UrlOpt, database_url, stderr, store_errors

if TYPE_CHECKING:
    from cadenza.api.accounts import KeyRecord, UserRecord
    from cadenza.api.roles import Role

PASSWORD_ENV = "CADENZA_PASSWORD"

users_app = typer.Typer(help="Users of the HTTP service (cadenza serve).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the HTTP service (sent as X-API-Key).", no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option("--role", help="admin, operator or viewer.")]
TeamOpt = Annotated[str, typer.Option("--team", help="The team whose objects the user or key sees.")]


def _role(value: str) -> Role:
    from cadenza.api.roles import parse_role

    try:
        return parse_role(value)
    except ValueError as exc:
        stderr().print(f"[bold red]✗[/] {exc}")
        raise typer.Exit(2) from None


def _password(name: str) -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not os.isatty(0):
        stderr().print(f"[bold red]✗[/] no terminal to ask for {name}'s password: set {PASSWORD_ENV}")
        raise typer.Exit(2)
    password: str = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="The user name (used to log in).")],
    role: RoleOpt = "viewer",
    team: TeamOpt = "default",
    url: UrlOpt = None,
) -> None:
    """Create a user; the password comes from a prompt, or from $CADENZA_PASSWORD for scripts."""
    chosen = _role(role)
    password = _password(name)
    with store_errors(stderr(), False):
        user = asyncio.run(_create_user(database_url(url), name, password, chosen, team))
    stderr().print(
        f"[green]✓[/] user {user.name!r} created (role {user.role.value}, team {user.team}, id {user.id})"
    )


async def _create_user(url: str, name: str, password: str, role: Role, team: str) -> UserRecord:
    from cadenza.api import accounts
    from cadenza.cli.audited import audited
    from cadenza.store import Store

    async with await Store.open(url) as store:
        return await audited(
            store,
            accounts.create_user(store, name, password, role, team),
            action="create_user",
            command=f"cadenza users create {name} --role {role.value} --team {team}",
            target=f"user:{name}",
            success=201,
            detail=lambda user: {"user_id": user.id, "role": user.role.value, "team": user.team},
        )


@keys_app.command("create")
def create_key(
    name: Annotated[
        str, typer.Option("--name", help="What the key is for (shown in listings and the audit log).")
    ],
    role: RoleOpt = "viewer",
    team: TeamOpt = "default",
    url: UrlOpt = None,
) -> None:
    """Create an API key and print it once, as the last line (only its hash is stored)."""
    chosen = _role(role)
    with store_errors(stderr(), False):
        record, key = asyncio.run(_create_key(database_url(url), name, chosen, team))
    stderr().print(
        f"[green]✓[/] API key {record.id} ({record.name!r}, role {record.role.value}, team {record.team}) "
        "created; it is shown once:"
    )
    print(key)


async def _create_key(url: str, name: str, role: Role, team: str) -> tuple[KeyRecord, str]:
    from cadenza.api import accounts
    from cadenza.api.audit import cli_actor
    from cadenza.cli.audited import audited
    from cadenza.store import Store

    async with await Store.open(url) as store:
        return await audited(
            store,
            accounts.create_key(store, name, role, team=team, created_by=cli_actor()),
            action="create_key",
            command=f"cadenza keys create --name {name} --role {role.value} --team {team}",
            target=f"key-name:{name}",
            success=201,
            detail=lambda created: {"key_id": created[0].id, "role": role.value, "team": team},
        )


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after cdz_, before the next _).")],
    url: UrlOpt = None,
) -> None:
    """Revoke an API key; requests with it are refused from then on."""
    with store_errors(stderr(), False):
        record = asyncio.run(_revoke_key(database_url(url), key_id))
    if record is None:
        stderr().print(f"[bold red]✗[/] no API key with id {key_id!r}")
        raise typer.Exit(2)
    stderr().print(f"[green]✓[/] API key {key_id} revoked")


async def _revoke_key(url: str, key_id: str) -> KeyRecord | None:
    from cadenza.api import accounts
    from cadenza.cli.audited import audited
    from cadenza.store import Store

    async with await Store.open(url) as store:
        before = await accounts.get_key(store, key_id)  # unknown: refused, audited like the API's 404
        return await audited(
            store,
            accounts.revoke_key(store, key_id),
            action="revoke_key",
            command=f"cadenza keys revoke {key_id}",
            target=f"key:{key_id}",
            success=404 if before is None else 204,
            detail=lambda _: (
                {"error": f"no API key with id {key_id!r}"}
                if before is None
                else {"already_revoked": before.revoked_at is not None}
            ),
        )
