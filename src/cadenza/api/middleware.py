"""Pure ASGI middleware for abuse limits: request body size and request time.

Pure ASGI (not ``BaseHTTPMiddleware``) so that neither adds a task or a copy per request, and so
that server-sent event streams pass through untouched.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.api.errors import PayloadTooLarge, error_body


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413: at once by Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        message = f"the request body is larger than {self.max_bytes} bytes"
        if length is not None and length > self.max_bytes:
            await send_json(send, 413, PayloadTooLarge(message).body(), {"connection": "close"})
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises it from body parsing (anything else is a 400).
                    raise HTTPException(413, detail=message)
            return msg

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestTimeout:
    """Answer 504 when a request has not started its response within ``seconds``.

    Streaming endpoints (paths ending in ``/stream``) are exempt: they are meant to stay open.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/stream"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking)
        except TimeoutError:
            if started:
                raise
            body = error_body("timeout", f"the request took longer than {self.seconds:g} s")
            await send_json(send, 504, body)
