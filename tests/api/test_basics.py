"""Health, readiness and bad input over real HTTP: every bad request is a structured 4xx."""

from __future__ import annotations

import socket

import httpx
import pytest
from tests.api.conftest import ApiServer, register

from cadenza.store import migrate


def test_health_and_readiness_need_no_credentials(api: ApiServer) -> None:
    with api.client(None) as client:
        assert client.get("/v1/health").json()["status"] == "ok"
        ready = client.get("/v1/ready").json()
        assert ready == {"status": "ready", "database": "sqlite", "schema_revision": migrate.HEAD}


def test_malformed_json_is_400_with_details(api: ApiServer) -> None:
    with api.client("operator") as client:
        response = client.post(
            "/v1/workflows", content=b'{"spec": ', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["type"] == "malformed_json"
    assert body["details"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"workflow_id": "x", "input": 5}, ["body", "input"], "string_type"),
        ({"workflow_id": "x", "input": "hi", "version": "two"}, ["body", "version"], "int_parsing"),
        ({"workflow_id": "x", "input": "hi", "colour": "red"}, ["body", "colour"], "extra_forbidden"),
        ({"workflow_id": "x"}, ["body", "input"], "missing"),
    ],
)
def test_wrong_types_and_unknown_fields_are_422(
    api: ApiServer, body: dict[str, object], loc: list[str], kind: str
) -> None:
    with api.client("operator") as client:
        response = client.post("/v1/runs", json=body)
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert any(d["loc"] == loc and d["type"] == kind for d in details), details


def test_run_body_needs_exactly_one_target(api: ApiServer) -> None:
    with api.client("operator") as client:
        response = client.post("/v1/runs", json={"input": "x"})
    assert response.status_code == 422
    assert "exactly one of workflow_id and agent_id" in response.text


def test_huge_body_is_413_by_content_length(api: ApiServer) -> None:
    big = "x" * (api.settings.max_body_bytes + 1)
    with api.client("operator") as client:
        response = client.post("/v1/workflows", json={"spec": big})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"


def test_huge_chunked_body_is_413_while_reading(api: ApiServer) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"spec": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    with api.client("operator") as client:
        response = client.post(
            "/v1/workflows", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/v1/runs/not-a-uuid",
        "/v1/runs/0123456789abcdef0123456789abcdef",
        "/v1/workflows/nope",
        "/v1/workflows/0123456789abcdef0123456789abcdef",
        "/v1/agents/0123456789abcdef0123456789abcdef",
        "/v1/runs/0123456789abcdef0123456789abcdef/events",
        "/v1/users/0123456789abcdef0123456789abcdef",
        "/v1/no/such/route",
    ],
)
def test_unknown_ids_are_404(api: ApiServer, path: str) -> None:
    with api.client("admin") as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_invalid_workflow_spec_is_422_with_line_and_column(api: ApiServer) -> None:
    spec = "name: bad\nagents:\n  writer: {instructionz: Write.}\nworkflow: writer2\n"
    with api.client("operator") as client:
        response = client.post("/v1/workflows", json={"spec": spec})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_workflow"
    got = {(d["line"], d["column"], d["key"]) for d in error["details"]}
    assert got == {(3, 12, "agents.writer.instructionz"), (4, 11, "workflow")}
    assert "did you mean 'instructions'" in error["details"][0]["message"]


def test_environment_references_and_python_imports_are_refused(api: ApiServer) -> None:
    spec = (
        "name: sneaky\nimports: [os]\ntools:\n  shell: os:system\n"
        "agents:\n  w: {instructions: '${CADENZA_JWT_SECRET:-x}', tools: [shell]}\nworkflow: w\n"
    )
    with api.client("operator") as client:
        response = client.post("/v1/workflows", json={"spec": spec})
    assert response.status_code == 422
    messages = [(d["key"], d["message"]) for d in response.json()["error"]["details"]]
    assert any(k == "imports[0]" and "Python imports" in m for k, m in messages)
    assert any(k == "tools.shell" and "Python imports" in m for k, m in messages)
    assert any(k == "agents.w.instructions" and "environment references" in m for k, m in messages)


def test_json_object_spec_is_accepted(api: ApiServer) -> None:
    spec = {"name": "as-object", "agents": {"w": {"instructions": "Hi."}}, "workflow": "w"}
    with api.client("operator") as client:
        created = register(client, spec)
    assert created["name"] == "as-object" and created["version"] == 1


def test_header_without_body_on_a_raw_socket_gets_a_4xx(api: ApiServer) -> None:
    """A Content-Length far over the limit is refused before the body is read."""
    host, port = api.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999\r\n\r\n"
        )
        head = sock.recv(200)
    assert head.startswith(b"HTTP/1.1 413")


def test_every_operation_declares_its_errors_and_permission(api: ApiServer) -> None:
    document = httpx.get(f"{api.base_url}/openapi.json").json()
    open_paths = {"/v1/health", "/v1/ready", "/v1/auth/token", "/v1/auth/refresh", "/v1/auth/me"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "413", "422", "429", "503", "504"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                assert "content" in response or code == "204", (method, path, code)
            if path not in open_paths:
                assert "x-required-permission" in operation, (method, path)
                assert "403" in codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
