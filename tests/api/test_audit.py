"""The audit log: every mutating request and every refused authentication, for admins, append-only."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text
from tests.api.conftest import ApiServer, register

from cadenza.store import Store


def _entries(api: ApiServer, **params: str) -> list[dict[str, object]]:
    with api.client("admin") as admin:
        response = admin.get("/v1/audit", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_mutating_requests_are_recorded_with_who_what_where_and_outcome(api: ApiServer) -> None:
    key_id = api.keys["operator"].split("_")[1]
    with api.client("operator", headers={"User-Agent": "audit-test/1"}) as client:
        flow = register(client, "name: audited\nagents: {w: {}}\nworkflow: w\n")
        bad = client.post("/v1/workflows", json={"spec": "name: audited\nagents: {w: {}}\nworkflow: w\n"})
        assert bad.status_code == 409
        client.get("/v1/workflows")  # reads are not recorded
    entries = _entries(api, actor=f"key:{key_id}")
    mine = [e for e in entries if e["action"] == "create_workflow"]
    assert [e["status"] for e in mine][:2] == [409, 201]  # newest first
    created = mine[1]
    assert created["outcome"] == "success" and mine[0]["outcome"] == "rejected"
    assert created["method"] == "POST" and created["path"] == "/v1/workflows"
    assert created["role"] == "operator" and created["team"] == "default"
    assert created["client"] == "127.0.0.1" and created["user_agent"] == "audit-test/1"
    assert not any(e["method"] == "GET" and e["status"] == 200 for e in entries)
    assert flow["id"]


def test_authentication_failures_are_recorded(api: ApiServer) -> None:
    httpx.post(f"{api.base_url}/v1/auth/token", data={"username": "mallory", "password": "guess1234"})
    httpx.get(f"{api.base_url}/v1/runs", headers={"X-API-Key": "cdz_0000000000000000_forged"})
    with api.client("viewer") as viewer:
        assert viewer.post("/v1/workflows", json={"spec": "x"}).status_code == 403
    denied = _entries(api, outcome="denied")
    login = next(e for e in denied if e["action"] == "token")
    assert login["status"] == 401 and login["actor"] is None and login["detail"] == {"username": "mallory"}
    assert any(e["path"] == "/v1/runs" and e["status"] == 401 and e["method"] == "GET" for e in denied)
    forbidden = next(e for e in denied if e["status"] == 403 and e["action"] == "create_workflow")
    assert forbidden["actor"] == f"key:{api.keys['viewer'].split('_')[1]}" and forbidden["role"] == "viewer"


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_read_the_audit_log(api: ApiServer, role: str) -> None:
    with api.client(role) as client:
        assert client.get("/v1/audit").status_code == 403


def test_audit_log_filters_by_time(api: ApiServer) -> None:
    time.sleep(0.01)
    since = _entries(api)[0]["at"]
    assert all(e["at"] >= since for e in _entries(api, since=str(since)))


def test_audit_rows_cannot_be_changed_or_deleted(api: ApiServer) -> None:
    async def tamper() -> list[str]:
        errors = []
        async with await Store.open(api.settings.database_url) as store:
            for statement in ("UPDATE audit_log SET outcome = 'success'", "DELETE FROM audit_log"):
                try:
                    async with store.engine.begin() as conn:
                        await conn.execute(text(statement))
                except Exception as exc:
                    errors.append(str(exc))
        return errors

    errors = asyncio.run(tamper())
    assert len(errors) == 2 and all("append-only" in e for e in errors)
    assert _entries(api)
