"""Load benchmark of the HTTP service: runs started per second, latency of POST/GET /v1/runs.

    python bench/bench_api.py                      # SQLite and PostgreSQL, 500 req/s for 5 s
    python bench/bench_api.py --db sqlite --rate 500 --seconds 5

The server is ``cadenza serve --model offline`` in its own process on 127.0.0.1; this script is
the load generator, in a second process. Runs execute inside the server (the durable driver, in
the same process as the API). Load is open-loop: request i is due at ``start + i / rate`` and its
latency is measured from when it was due, so a slow server cannot hide its queueing by slowing
the generator down (no coordinated omission). The client is a minimal keep-alive HTTP/1.1 client
over asyncio streams so that its own cost stays small next to the server's (both share the
machine's two cores).

Bounded in count and time: each phase sends at most ``rate * seconds`` requests and gives up
waiting for runs after ``--drain`` seconds. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PG_URL = os.environ.get("CADENZA_TEST_PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-" + uuid.uuid4().hex + uuid.uuid4().hex
WORKFLOW = "name: bench\nagents:\n  writer: {instructions: Write one line.}\nworkflow: writer\n"


class Connection:
    """One keep-alive HTTP/1.1 connection; responses must carry Content-Length (ours do)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


class Client:
    """A pool of keep-alive connections to the server."""

    def __init__(self, port: int, key: str, size: int) -> None:
        self.port = port
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}
        self.size = size
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection(HOST, self.port)
            self.pool.put_nowait(Connection(reader, writer))

    async def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else b""
        conn = await self.pool.get()
        try:
            status, data = await conn.request(method, path, self.headers, body)
        finally:
            self.pool.put_nowait(conn)
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait().writer.close()


@dataclass
class Phase:
    name: str
    sent: int
    errors: dict[int, int]
    latencies_ms: list[float]
    wall: float

    def line(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.name:<22} {self.sent:>6} req  {self.sent / self.wall:7.1f} req/s  p50 {p50:6.2f} ms  "
            f"p99 {p99:6.2f} ms  max {lat[-1] if lat else float('nan'):7.2f} ms  errors: {errs}"
        )


async def open_loop(name: str, rate: float, seconds: float, send: Any) -> tuple[Phase, list[Any]]:
    """Send ``rate * seconds`` requests, request i due at start + i / rate; latency from due time."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    results: list[Any] = [None] * total
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int, due: float) -> None:
        status, body = await send(i)
        latencies.append((loop.time() - due) * 1000)
        if status >= 400:
            errors[status] = errors.get(status, 0) + 1
        results[i] = body

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return Phase(name, total, errors, latencies, loop.time() - start), results


async def wait_finished(client: Client, ids: list[str], started: float, drain: float) -> tuple[int, float]:
    """(runs finished, seconds from the first POST until the last finished), counting finished runs
    a page of 100 at a time (a few requests per sweep, so polling does not slow the server down)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + drain
    wanted = set(ids)
    done: set[str] = set()
    while loop.time() < deadline:
        offset = 0
        while True:
            _, page = await client.call(
                "GET", f"/v1/runs?status=succeeded&status=failed&limit=100&offset={offset}"
            )
            done.update(r["id"] for r in page["items"] if r["id"] in wanted)
            if page["next_offset"] is None:
                break
            offset = page["next_offset"]
        if len(done) == len(wanted):
            break
        await asyncio.sleep(0.1)
    return len(done), loop.time() - started


async def bootstrap(url: str) -> str:
    from cadenza.api import accounts
    from cadenza.api.roles import Role
    from cadenza.store import Store

    async with await Store.open(url, upgrade=True) as store:
        _, key = await accounts.create_key(store, "bench", Role.operator)
    return key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CADENZA_DATABASE_URL": url,
        "CADENZA_JWT_SECRET": SECRET,
        "CADENZA_HOME": str(home),
        "CADENZA_RATE_LIMIT_PER_SECOND": "1000000",
        "CADENZA_RATE_LIMIT_BURST": "1000000",
    }
    command = [
        sys.executable,
        "-c",
        "from cadenza.cli.app import main; main()",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--model",
        "offline",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return server
        except OSError:
            if server.poll() is not None:
                error = server.stderr.read().decode() if server.stderr else ""
                raise RuntimeError(f"server exited: {error}") from None
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start")


async def bench(port: int, key: str, rate: float, seconds: float, drain: float) -> list[str]:
    client = Client(port, key, size=64)
    await client.open()
    try:
        status, flow = await client.call("POST", "/v1/workflows", {"spec": WORKFLOW})
        assert status == 201, flow
        body = {"workflow_id": flow["id"], "input": "benchmark"}
        await open_loop("warm-up", 100, 1, lambda i: client.call("POST", "/v1/runs", body))
        lines = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        post, accepted = await open_loop(
            f"POST /v1/runs @{rate:g}/s", rate, seconds, lambda i: client.call("POST", "/v1/runs", body)
        )
        lines.append(post.line())
        ids = [a["id"] for a in accepted if a and "id" in a]
        done, took = await wait_finished(client, ids, started, drain)
        lines.append(
            f"{'runs':<22} {done}/{len(ids)} finished in {took:.2f} s from the first POST: "
            f"{done / took:.1f} runs/s started and completed"
        )
        get, _ = await open_loop(
            f"GET /v1/runs/{{id}} @{rate:g}/s",
            rate,
            seconds,
            lambda i: client.call("GET", f"/v1/runs/{ids[i % len(ids)]}"),
        )
        lines.append(get.line())
        return lines
    finally:
        await client.close()


def run_one(db: str, rate: float, seconds: float, drain: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        if db == "sqlite":
            url = f"sqlite:///{tmp}/bench.db"
        else:
            url, drop = pg_database()
        try:
            key = asyncio.run(bootstrap(url))
            port = free_port()
            server = start_server(url, port, Path(tmp))
            try:
                lines = asyncio.run(bench(port, key, rate, seconds, drain))
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            if drop is not None:
                drop()
    print(f"\n[{db}] server: cadenza serve --model offline (1 process, uvicorn); load: this process")
    for line in lines:
        print("  " + line)


def pg_database() -> tuple[str, Any]:
    import asyncpg

    name = f"cadenza_bench_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}", lambda: asyncio.run(
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second (at most 2000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per phase (at most 30)")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the runs to finish")
    args = parser.parse_args()
    rate, seconds = min(args.rate, 2000.0), min(args.seconds, 30.0)
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        run_one(db, rate, seconds, args.drain)


if __name__ == "__main__":
    main()
