"""Each role against each endpoint, allowed and denied; teams cannot see each other's objects."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from tests.api.conftest import ApiServer, register, wait_for_run

ROLES = ("admin", "operator", "viewer")
ALL = set(ROLES)
OPERATE = {"admin", "operator"}
ADMIN = {"admin"}


@pytest.fixture(scope="module")
def objects(api: ApiServer) -> dict[str, Any]:
    """A workflow, an agent and a finished run of the default team, made by the admin."""
    with api.client("admin") as admin:
        workflow = register(admin)
        agent = admin.post("/v1/agents", json={"name": "helper", "spec": {"instructions": "Help."}}).json()
        run = admin.post("/v1/runs", json={"workflow_id": workflow["id"], "input": "hi"}).json()
        wait_for_run(admin, run["id"])
        user = admin.get("/v1/users", params={"limit": 1}).json()["items"][0]
        key = admin.get("/v1/keys", params={"limit": 1}).json()["items"][0]
    return {
        "workflow": workflow["id"],
        "agent": agent["id"],
        "run": run["id"],
        "user": user["id"],
        "key": key["id"],
    }


# (method, path template, json body or None, roles allowed). Denied roles get 403 before the body
# is looked at; allowed ones get anything but 401/403.
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/auth/me", None, ALL),
    ("GET", "/v1/workflows", None, ALL),
    ("GET", "/v1/workflows/{workflow}", None, ALL),
    ("GET", "/v1/workflows/{workflow}/versions", None, ALL),
    (
        "POST",
        "/v1/workflows",
        {"spec": "name: rbac-{role}\nagents: {w: {instructions: x}}\nworkflow: w\n"},
        OPERATE,
    ),
    (
        "POST",
        "/v1/workflows/{workflow}/versions",
        {"spec": "name: hello\nagents: {w: {}}\nworkflow: w\n"},
        OPERATE,
    ),
    ("GET", "/v1/agents", None, ALL),
    ("GET", "/v1/agents/{agent}", None, ALL),
    ("POST", "/v1/agents", {"name": "agent-{role}", "spec": {"instructions": "x"}}, OPERATE),
    ("GET", "/v1/runs", None, ALL),
    ("GET", "/v1/runs/{run}", None, ALL),
    ("GET", "/v1/runs/{run}/events", None, ALL),
    ("GET", "/v1/runs/{run}/trace", None, ALL),
    ("GET", "/v1/runs/{run}/cost", None, ALL),
    ("GET", "/v1/runs/{run}/tasks", None, ALL),
    ("GET", "/v1/runs/{run}/stream", None, ALL),
    ("POST", "/v1/runs", {"workflow_id": "{workflow}", "input": "go"}, OPERATE),
    ("POST", "/v1/runs/{run}/cancel", None, OPERATE),
    ("POST", "/v1/runs/{run}/resume", None, OPERATE),
    ("POST", "/v1/runs/{run}/approve", {"comment": "ok"}, OPERATE),
    ("POST", "/v1/runs/{run}/reject", {"comment": "no"}, OPERATE),
    ("GET", "/v1/users", None, ADMIN),
    ("GET", "/v1/users/{user}", None, ADMIN),
    ("POST", "/v1/users", {"name": "u-{role}", "password": "long enough", "role": "viewer"}, ADMIN),
    ("PATCH", "/v1/users/{user}", {"role": "admin"}, ADMIN),
    ("GET", "/v1/keys", None, ADMIN),
    ("POST", "/v1/keys", {"name": "k-{role}", "role": "viewer"}, ADMIN),
    ("DELETE", "/v1/keys/{key}", None, ADMIN),
    ("GET", "/v1/audit", None, ADMIN),
    ("GET", "/v1/costs", None, ALL),
    ("GET", "/v1/costs?by=user&since=1d", None, ALL),
    ("GET", "/v1/agents/stats", None, ALL),
    ("GET", "/metrics", None, ADMIN),
    ("DELETE", "/v1/agents/{agent}", None, OPERATE),
    ("DELETE", "/v1/workflows/{workflow}", None, OPERATE),
]


def test_matrix_covers_every_operation_with_the_roles_its_permission_grants(api: ApiServer) -> None:
    """ENDPOINTS stays complete, and agrees with each operation's declared x-required-permission."""
    from cadenza.api.roles import Permission, Role, allows

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])

    matrix = {(method, shape(path)): allowed for method, path, _, allowed in ENDPOINTS}
    document = httpx.get(f"{api.base_url}/openapi.json").json()
    seen: set[tuple[str, str]] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            permission = operation.get("x-required-permission")
            if permission is None:
                continue
            key = (method.upper(), shape(path))
            assert key in matrix, f"{key} is missing from ENDPOINTS"
            granted = {role for role in ROLES if allows(Role(role), Permission(permission))}
            assert matrix[key] == granted, (key, permission)
            seen.add(key)
    # and every row names a real operation (/v1/auth/me needs only a signed-in caller)
    assert set(matrix) - seen == {("GET", "/v1/auth/me")}


def _fill(value: Any, objects: dict[str, Any], role: str) -> Any:
    if isinstance(value, str):
        for name, replacement in {**objects, "role": role}.items():
            value = value.replace(f"{{{name}}}", str(replacement))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, objects, role) for k, v in value.items()}
    return value


# Every role against every endpoint, except the deletes a role is allowed: those would remove the
# shared objects the other cases use, so test_deletes_are_allowed_for_their_roles covers them.
MATRIX = [
    pytest.param(role, method, path, body, allowed, id=f"{method} {path}-{role}")
    for method, path, body, allowed in ENDPOINTS
    for role in ROLES
    if not (method == "DELETE" and role in allowed)
]


@pytest.mark.parametrize(("role", "method", "path", "body", "allowed"), MATRIX)
def test_role_against_endpoint(
    api: ApiServer, objects: dict[str, Any], role: str, method: str, path: str, body: Any, allowed: set[str]
) -> None:
    with api.client(role) as client:
        response = client.request(method, _fill(path, objects, role), json=_fill(body, objects, role))
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["type"] == "forbidden"


def test_deletes_are_allowed_for_their_roles(api: ApiServer, objects: dict[str, Any]) -> None:
    with api.client("operator") as operator:
        agent = operator.post("/v1/agents", json={"name": "doomed", "spec": {}}).json()
        assert operator.delete(f"/v1/agents/{agent['id']}").status_code == 204
        assert operator.get(f"/v1/agents/{agent['id']}").status_code == 404
        flow = register(operator, "name: doomed\nagents: {w: {}}\nworkflow: w\n")
        assert operator.delete(f"/v1/workflows/{flow['id']}").status_code == 204
        assert operator.get(f"/v1/workflows/{flow['id']}").status_code == 404
    with api.client("admin") as admin:
        key = admin.post("/v1/keys", json={"name": "doomed", "role": "viewer"}).json()
        assert admin.delete(f"/v1/keys/{key['id']}").status_code == 204


def test_another_teams_objects_are_404_and_unlisted(api: ApiServer, objects: dict[str, Any]) -> None:
    with api.client("operator@other") as other:
        for path in (
            f"/v1/runs/{objects['run']}",
            f"/v1/runs/{objects['run']}/events",
            f"/v1/runs/{objects['run']}/stream",
            f"/v1/runs/{objects['run']}/cost",
            f"/v1/runs/{objects['run']}/tasks",
            f"/v1/workflows/{objects['workflow']}",
            f"/v1/agents/{objects['agent']}",
        ):
            response = other.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["type"] == "not_found"
        assert other.post(f"/v1/runs/{objects['run']}/cancel").status_code == 404
        assert (
            other.post("/v1/runs", json={"workflow_id": objects["workflow"], "input": "x"}).status_code == 404
        )
        assert objects["run"] not in other.get("/v1/runs", params={"limit": 100}).text
        assert objects["workflow"] not in other.get("/v1/workflows", params={"limit": 100}).text
        # Their own objects work, and are invisible to the default team.
        mine = register(other, "name: hello\nagents: {w: {}}\nworkflow: w\n")
        run = other.post("/v1/runs", json={"workflow_id": mine["id"], "input": "x"}).json()
        assert wait_for_run(other, run["id"])["team"] == "other"
    with api.client("viewer") as viewer:
        assert viewer.get(f"/v1/runs/{run['id']}").status_code == 404
    with api.client("admin") as admin:
        assert admin.get(f"/v1/runs/{run['id']}").status_code == 200


def test_missing_and_foreign_ids_look_the_same(api: ApiServer, objects: dict[str, Any]) -> None:
    with api.client("viewer@other") as other:
        foreign = other.get(f"/v1/runs/{objects['run']}").json()["error"]
        missing = other.get(f"/v1/runs/{'f' * 32}").json()["error"]
    assert foreign["type"] == missing["type"] == "not_found"
    assert foreign["message"].replace(objects["run"], "ID") == missing["message"].replace("f" * 32, "ID")


def test_websocket_refuses_other_teams_and_no_credentials(api: ApiServer, objects: dict[str, Any]) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = api.base_url.replace("http", "ws") + f"/v1/runs/{objects['run']}/ws"
    refusals = [({}, 401), ({"X-API-Key": api.keys["viewer@other"]}, 404), ({"X-API-Key": "cdz_nope"}, 401)]
    for headers, status in refusals:
        with pytest.raises(InvalidStatus) as caught, connect(url, additional_headers=headers, open_timeout=5):
            pass
        assert caught.value.response.status_code == status
        assert json.loads(caught.value.response.body)["error"]["type"] in ("unauthorized", "not_found")
    with connect(url, additional_headers={"X-API-Key": api.keys["viewer"]}, open_timeout=5) as ws:
        first = ws.recv(timeout=5)
    assert '"run_started"' in first
