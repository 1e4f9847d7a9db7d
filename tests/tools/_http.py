"""A real HTTP server on a loopback address for tool tests, with per-path handlers.

Each handler gets the request (method, path, query, headers, body) and returns
``(status, headers, body)``. It runs in a thread so sync and async tests can both use it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Reply = tuple[int, dict[str, str], bytes]
Handler = Callable[[Request], Reply]


@dataclass
class Server:
    host: str
    port: int
    routes: dict[str, Handler]
    requests: list[Request] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


def html(body: str, status: int = 200) -> Reply:
    return status, {"Content-Type": "text/html; charset=utf-8"}, body.encode()


def json_reply(data: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


@contextmanager
def serve(routes: dict[str, Handler], host: str = "127.0.0.1") -> Iterator[Server]:
    """Serve ``routes`` (path -> handler) on ``host`` and a free port until the block ends."""
    server_info: list[Server] = []

    class _Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            server_info[0].requests.append(request)
            handler = routes.get(parts.path)
            status, headers, body = handler(request) if handler else (404, {}, b"not found")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer((host, 0), _Handler)
    httpd.daemon_threads = True
    server_info.append(Server(host, httpd.server_address[1], routes))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_info[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
