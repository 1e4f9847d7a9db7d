"""A real server on loopback for the API tests: uvicorn in a thread on a free port.

``ApiServer`` starts ``create_app`` under uvicorn on 127.0.0.1 with a fresh database (a SQLite
file, or a new PostgreSQL database) and bootstraps callers the way an operator would: users and
API keys of each role, in two teams. Tests talk to it over HTTP with httpx.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import PG_URL, service_unavailable

from cadenza.api import accounts
from cadenza.api.app import create_app
from cadenza.api.roles import Role
from cadenza.api.settings import ApiSettings
from cadenza.store import Store

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
HELLO = """\
name: hello
description: says hello
agents:
  writer: {instructions: Write a greeting.}
workflow: writer
"""


@dataclass
class ApiServer:
    """A running server and the credentials of its callers."""

    base_url: str
    settings: ApiSettings
    keys: dict[str, str] = field(default_factory=dict)  # "role" or "role@team" -> API key
    users: dict[str, str] = field(default_factory=dict)  # user name -> id
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def client(self, who: str | None = "admin", headers: dict[str, str] | None = None) -> httpx.Client:
        """An HTTP client authenticated with the API key of ``who`` (a role, or role@team)."""
        sent = {"X-API-Key": self.keys[who]} if who else {}
        return httpx.Client(base_url=self.base_url, headers={**sent, **(headers or {})}, timeout=10)

    def token(self, name: str, password: str = PASSWORD) -> dict[str, Any]:
        with httpx.Client(base_url=self.base_url) as client:
            response = client.post("/v1/auth/token", data={"username": name, "password": password})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)


async def _bootstrap(server: ApiServer, with_users: bool) -> None:
    async with await Store.open(server.settings.database_url, upgrade=True) as store:
        for team in ("default", "other"):
            suffix = "" if team == "default" else f"@{team}"
            for role in Role:
                _, key = await accounts.create_key(store, f"{role.value}{suffix}", role, team=team)
                server.keys[f"{role.value}{suffix}"] = key
                if with_users:
                    user = await accounts.create_user(
                        store, f"{role.value}{suffix}-user", PASSWORD, role, team
                    )
                    server.users[user.name] = user.id


def start_server(database_url: str, *, with_users: bool = True, **overrides: Any) -> ApiServer:
    """A server on ``database_url`` with an API key per role and team (and users, unless a server
    on the same database made them already)."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": SECRET,
        "model_override": "offline",
        "rate_limit_per_second": 10_000,
        "rate_limit_burst": 10_000,
        "anonymous_rate_per_second": 10_000,
        "anonymous_rate_burst": 10_000,
        "upgrade_database": True,
    }
    settings = ApiSettings(**{**options, **overrides})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = ApiServer(f"http://127.0.0.1:{port}", settings)
    asyncio.run(_bootstrap(server, with_users))
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on", ws="websockets-sansio")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    server._server, server._thread = uv, thread
    return server


def new_pg_database() -> tuple[str, Any]:
    """A fresh PostgreSQL database (URL, dropper): each test module gets its own."""
    import asyncpg

    name = f"cadenza_api_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable("PostgreSQL", str(exc))
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}", lambda: asyncio.run(
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server on a fresh SQLite file, shared by a test module."""
    path = tmp_path_factory.mktemp("api") / "cadenza.db"
    server = start_server(f"sqlite:///{path}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_pg() -> Iterator[ApiServer]:
    """A server on a fresh PostgreSQL database, shared by a test module."""
    url, drop = new_pg_database()
    server = start_server(url)
    yield server
    server.stop()
    drop()


def register(client: httpx.Client, spec: str | dict[str, Any] = HELLO) -> dict[str, Any]:
    response = client.post("/v1/workflows", json={"spec": spec})
    assert response.status_code == 201, response.text
    return dict(response.json())


def wait_for_run(
    client: httpx.Client, run_id: str, statuses: tuple[str, ...] = ("succeeded",)
) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return dict(run)
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run['status']}: {run}")
        time.sleep(0.02)
