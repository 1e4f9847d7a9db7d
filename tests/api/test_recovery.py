"""An accepted run is never lost: kill the server (SIGKILL) or stop it (SIGTERM) mid-run, start
it again, and the run completes from its journal. ``cadenza serve`` runs in a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import SECRET, wait_for_run

from cadenza.api import accounts
from cadenza.api.roles import Role
from cadenza.store import Store

ROOT = Path(__file__).resolve().parents[2]
SLOW = """\
name: slow-recovered
imports: [tests.api.slow_steps]
agents:
  writer: {instructions: Draft it.}
  editor: {instructions: Polish it.}
workflow:
  pipeline:
    stages: [writer, {test_sleep: {seconds: 2.0}}, editor]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``cadenza serve`` in a subprocess on one database."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> None:
        port = _free_port()
        env = {
            **os.environ,
            "CADENZA_DATABASE_URL": self.url,
            "CADENZA_JWT_SECRET": SECRET,
            "CADENZA_HOME": str(self.home),
            "CADENZA_ALLOW_PYTHON_IMPORTS": "true",
            "CADENZA_SHUTDOWN_GRACE_SECONDS": "0.2",
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable,
            "-c",
            "from cadenza.cli.app import main; main()",
            "serve",
            "--port",
            str(port),
            "--model",
            "offline",
        ]
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/v1/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode() if self.process.stderr else "exited")
            time.sleep(0.1)
        raise RuntimeError("cadenza serve did not become ready")

    def stop(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    url = f"sqlite:///{tmp_path}/cadenza.db"

    async def key() -> str:
        async with await Store.open(url) as store:
            return (await accounts.create_key(store, "ops", Role.operator))[1]

    api_key = asyncio.run(key())
    server = Served(url, tmp_path)
    yield server, api_key
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_run_survives_its_server(served: tuple[Served, str], sig: int) -> None:
    server, key = served
    server.start()
    with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=10) as client:
        flow = client.post("/v1/workflows", json={"spec": SLOW})
        assert flow.status_code == 201, flow.text
        run = client.post("/v1/runs", json={"workflow_id": flow.json()["id"], "input": "survive"}).json()
        time.sleep(0.5)  # the writer's call is journaled; the run sleeps in its second stage
    server.stop(sig)
    server.start()  # recovery resumes runs a dead process left running
    with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=10) as client:
        done = wait_for_run(client, run["id"])
        events = client.get(f"/v1/runs/{run['id']}/events").json()["items"]
        cost = client.get(f"/v1/runs/{run['id']}/cost").json()
    assert done["attempt"] == 2 and "Polish it." in done["output"]
    assert [e["type"] for e in events].count("run_started") == 2
    assert cost["by_model"][0]["calls"] == 2  # writer once (replayed, not repeated) + editor


def test_serve_refuses_an_unusable_database_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path)}
    command = [sys.executable, "-c", "from cadenza.cli.app import main; main()", "serve", "--port", "1"]
    missing = subprocess.run(
        [*command, "--url", "postgresql://postgres:postgres@127.0.0.1:5432/no_such_db_x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "DatabaseUnavailableError" in missing.stderr
    assert "Traceback" not in missing.stderr and "postgres:***@" in missing.stderr
    short = subprocess.run(
        command, env={**env, "CADENZA_JWT_SECRET": "short"}, capture_output=True, text=True, timeout=60
    )
    assert short.returncode == 2 and "CADENZA_JWT_SECRET" in short.stderr and "Traceback" not in short.stderr
