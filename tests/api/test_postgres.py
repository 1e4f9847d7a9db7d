"""The service on PostgreSQL: the same flows as on SQLite, against a real server (a database per module)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text
from tests.api.conftest import ApiServer, register, wait_for_run
from tests.api.test_runs import GATED

from cadenza.store import Store, migrate


def test_ready_on_postgres(api_pg: ApiServer) -> None:
    with api_pg.client(None) as client:
        assert client.get("/v1/ready").json() == {
            "status": "ready",
            "database": "postgresql",
            "schema_revision": migrate.HEAD,
        }


def test_run_lifecycle_isolation_and_stream_on_postgres(api_pg: ApiServer) -> None:
    with api_pg.client("operator") as client:
        flow = register(client, GATED)
        run = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "pg"}).json()
        wait_for_run(client, run["id"], ("waiting",))
        assert client.post(f"/v1/runs/{run['id']}/approve", json={"comment": "ok"}).status_code == 202
        done = wait_for_run(client, run["id"])
        assert done["attempt"] == 2 and done["team"] == "default"
        listed = client.get("/v1/runs", params={"status": "succeeded"}).json()["items"]
        assert [r["id"] for r in listed] == [run["id"]]
        with client.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
            ids = [int(line[4:]) for line in response.iter_lines() if line.startswith("id: ")]
        assert ids == list(range(1, len(ids) + 1)) and len(ids) > 5
        cost = client.get(f"/v1/runs/{run['id']}/cost").json()
        assert cost["by_model"][0]["calls"] == 2  # writer (replayed, counted once) and editor
    with api_pg.client("admin@other") as other_admin, api_pg.client("viewer@other") as other:
        assert other.get(f"/v1/runs/{run['id']}").status_code == 404
        assert other.get("/v1/runs").json()["items"] == []
        assert other_admin.get(f"/v1/runs/{run['id']}").status_code == 200  # admins see every team


def test_audit_log_is_append_only_on_postgres(api_pg: ApiServer) -> None:
    with api_pg.client("admin") as admin:
        assert admin.post("/v1/keys", json={"name": "pg-key", "role": "viewer"}).status_code == 201
        entries = admin.get("/v1/audit", params={"action": "create_key"}).json()["items"]
    assert entries and entries[0]["outcome"] == "success" and entries[0]["actor"].startswith("key:")

    async def tamper() -> list[str]:
        errors = []
        async with await Store.open(api_pg.settings.database_url) as store:
            for statement in (
                "UPDATE audit_log SET status = 200",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
            ):
                try:
                    async with store.engine.begin() as conn:
                        await conn.execute(text(statement))
                except Exception as exc:
                    errors.append(str(exc))
        return errors

    errors = asyncio.run(tamper())
    assert len(errors) == 3 and all("append-only" in e for e in errors), json.dumps(errors)
