"""CLI commands that change security or run state write audit rows, refusals included, in the
same append-only table the HTTP API writes (and ``GET /v1/audit`` reads). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.store.conftest import postgres_url, sqlite_url, store_url
from typer.testing import CliRunner

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.api.audit import AuditLog
from cadenza.cli.app import app
from cadenza.durable import Approval, ApprovalRequired, run_durable
from cadenza.store import Store

__all__ = ["postgres_url", "sqlite_url", "store_url"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipeline_blog_post.yaml"
ACTOR = f"cli:{getpass.getuser()}@{socket.gethostname()}"
runner = CliRunner()


@pytest.fixture
def db_url(store_url: str) -> str:
    """A fresh database at the current schema (PostgreSQL does not upgrade on open)."""

    async def upgrade() -> None:
        async with await Store.open(store_url, upgrade=True):
            pass

    asyncio.run(upgrade())
    return store_url


def cli(url: str, *args: str) -> Any:
    return runner.invoke(app, [*args], env={"CADENZA_DATABASE_URL": url, "CADENZA_PASSWORD": "long enough 1"})


def rows(url: str, **filters: Any) -> list[dict[str, Any]]:
    """Audit rows newest first, read the way ``GET /v1/audit`` reads them."""

    async def read() -> list[dict[str, Any]]:
        async with await Store.open(url) as store:
            return await AuditLog(store).query(
                actor=filters.get("actor"),
                action=filters.get("action"),
                outcome=filters.get("outcome"),
                since=None,
                limit=100,
                offset=0,
            )

    return asyncio.run(read())


def last(url: str, action: str) -> dict[str, Any]:
    found = rows(url, action=action)
    assert found, f"no audit row for {action}"
    return found[0]


def assert_cli_row(row: dict[str, Any], *, action: str, status: int, outcome: str, target: str) -> None:
    assert row["action"] == action
    assert row["status"] == status and row["outcome"] == outcome
    assert row["actor"] == ACTOR and row["method"] == "CLI"
    assert row["client"] == socket.gethostname() and row["user_agent"] == "cadenza-cli"
    assert row["detail"]["source"] == "cli" and row["detail"]["target"] == target
    assert row["at"] is not None and row["path"].startswith("cadenza ")


def test_users_and_keys_commands_are_audited_with_refusals(db_url: str) -> None:
    store_url = db_url
    made = cli(store_url, "users", "create", "alice", "--role", "admin")
    assert made.exit_code == 0, made.output
    row = last(store_url, "create_user")
    assert_cli_row(row, action="create_user", status=201, outcome="success", target="user:alice")
    assert row["detail"]["role"] == "admin" and len(row["detail"]["user_id"]) == 32
    assert "long enough" not in str(row), "the password is never audited"

    again = cli(store_url, "users", "create", "alice")
    assert again.exit_code == 2
    row = last(store_url, "create_user")
    assert_cli_row(row, action="create_user", status=409, outcome="rejected", target="user:alice")
    assert "already exists" in row["detail"]["error"]

    key = cli(store_url, "keys", "create", "--name", "deploy", "--role", "operator")
    assert key.exit_code == 0, key.output
    secret = key.stdout.strip().splitlines()[-1]
    key_id = secret.split("_")[1]
    row = last(store_url, "create_key")
    assert_cli_row(row, action="create_key", status=201, outcome="success", target="key-name:deploy")
    assert row["detail"]["key_id"] == key_id and secret not in str(row)

    assert cli(store_url, "keys", "revoke", key_id).exit_code == 0
    row = last(store_url, "revoke_key")
    assert_cli_row(row, action="revoke_key", status=204, outcome="success", target=f"key:{key_id}")
    assert cli(store_url, "keys", "revoke", "nosuchkey").exit_code == 2
    row = last(store_url, "revoke_key")
    assert_cli_row(row, action="revoke_key", status=404, outcome="rejected", target="key:nosuchkey")

    assert len(rows(store_url, actor=ACTOR)) == 5


def _waiting_run(url: str) -> str:
    def reply(messages: Any, request: Any) -> str:
        return "draft"

    flow = Pipeline(
        [Agent("drafter", model=FunctionModel(reply, name="fn")), Approval("review", prompt="Ok?")],
        name="gated",
    )
    run_id = uuid.uuid4().hex

    async def start() -> None:
        async with await Store.open(url) as store:
            with pytest.raises(ApprovalRequired):
                await run_durable(flow, "launch", store=store, run_id=run_id)

    asyncio.run(start())
    return run_id


def test_run_commands_are_audited(db_url: str) -> None:
    store_url = db_url
    waiting = _waiting_run(store_url)
    approved = cli(store_url, "runs", "approve", waiting, "--no-resume", "-c", "fine", "--by", "ana")
    assert approved.exit_code == 0, approved.output
    row = last(store_url, "approve_run")
    assert_cli_row(row, action="approve_run", status=200, outcome="success", target=f"run:{waiting}")
    assert row["detail"]["comment"] == "fine" and row["detail"]["by"] == "ana"

    other = _waiting_run(store_url)
    assert cli(store_url, "runs", "cancel", other).exit_code == 0
    row = last(store_url, "cancel_run")
    assert_cli_row(row, action="cancel_run", status=200, outcome="success", target=f"run:{other}")
    assert row["detail"]["run_status"] == "cancelled"

    assert cli(store_url, "runs", "reject", other, "--no-resume").exit_code == 2  # not waiting
    row = last(store_url, "reject_run")
    assert_cli_row(row, action="reject_run", status=409, outcome="rejected", target=f"run:{other}")

    assert cli(store_url, "runs", "recover").exit_code == 0
    row = last(store_url, "recover_runs")
    assert row["outcome"] == "success" and row["detail"] == {"source": "cli", "target": None, "recovered": {}}

    unknown = "0" * 32
    assert cli(store_url, "runs", "resume", unknown).exit_code == 2
    row = last(store_url, "resume_run")
    assert_cli_row(row, action="resume_run", status=404, outcome="rejected", target=f"run:{unknown}")


def test_a_fork_that_drives_a_run_is_audited_with_how_it_ended(sqlite_url: str) -> None:
    ran = cli(sqlite_url, "run", str(EXAMPLE), "-i", "audits", "--model", "offline", "--json")
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]
    forked = cli(sqlite_url, "runs", "fork", run_id, "--from", "pipeline/1:writer", "--json")
    assert forked.exit_code == 0, forked.output
    row = last(sqlite_url, "fork_run")
    assert_cli_row(row, action="fork_run", status=200, outcome="success", target=f"run:{run_id}")
    assert row["detail"]["run_status"] == "succeeded"
    assert row["detail"]["run_id"] == json.loads(forked.stdout)["id"] != run_id


def test_cli_audit_rows_cannot_be_changed_or_deleted(db_url: str) -> None:
    store_url = db_url
    assert cli(store_url, "users", "create", "bob").exit_code == 0

    async def tamper() -> list[str]:
        errors = []
        async with await Store.open(store_url) as store:
            for statement in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log"):
                try:
                    async with store.engine.begin() as conn:
                        await conn.execute(text(statement))
                except Exception as exc:
                    errors.append(str(exc))
        return errors

    errors = asyncio.run(tamper())
    assert len(errors) == 2 and all("append-only" in e for e in errors)
    assert last(store_url, "create_user")["outcome"] == "success"
