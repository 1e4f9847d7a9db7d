"""A real HTTP server that speaks the OpenAI and Anthropic wire formats, for provider tests.

It is not a mock of our client: the official ``openai`` and ``anthropic`` SDKs talk to it over
real HTTP on 127.0.0.1, exactly as they would talk to the real APIs.

Endpoints (the wire formats of the real APIs):

- ``POST /v1/chat/completions`` — OpenAI chat completions, plain JSON or SSE (``stream: true``,
  ``data: {...}`` chunks, tool-call deltas, a usage chunk when ``stream_options.include_usage``,
  then ``data: [DONE]``). Point an SDK at it with ``base_url=server.openai_url`` (``.../v1``).
- ``POST /v1/messages`` — Anthropic messages, plain JSON or SSE (``message_start``,
  ``content_block_start``, ``content_block_delta`` with ``text_delta`` / ``input_json_delta``,
  ``content_block_stop``, ``message_delta``, ``message_stop``). Use ``base_url=server.url``.

Scripting. Each API ("openai", "anthropic") has a queue of replies; every request takes the
next one. When its queue is empty the server answers with that API's default reply, which is
deterministic: the text ``"Fake answer to: <last user text>"`` with fixed usage, unless a
default was set (``set_default``; its text, when empty, is still that deterministic text, so a
default of ``{"delay": 0.5}`` makes every call slow without changing the answers).

A reply (``Reply``, or the same keys as JSON) is any of:

- ``{"text": "...", "tool_calls": [{"name": "f", "arguments": {...}, "id": "call_1"}],
  "usage": {...}}`` — an answer. ``usage`` is the provider's own usage object, merged over the
  default (OpenAI: ``prompt_tokens``, ``completion_tokens``, ``prompt_tokens_details``;
  Anthropic: ``input_tokens``, ``output_tokens``, ``cache_read_input_tokens``,
  ``cache_creation_input_tokens``).
- ``{"status": 429, "retry_after": "0.05"}`` (or ``"retry_after_ms": 50``) — an error in the
  provider's error format with that status (also 401, 500, 503, 529 ...).
- ``{"delay": 2.0, ...}`` — wait that long before answering (beyond a client's timeout).
- ``{"malformed": true}`` — HTTP 200, ``content-type: application/json``, a body that is not JSON.
- ``{"drop": true, ...}`` — send half of the body (half of the SSE events when streaming), then
  drop the connection.
- ``{"refusal": "I can't help with that."}`` — OpenAI only: a refusal instead of content.
- ``{"stream_error": "overloaded_error", ...}`` — Anthropic streams only: an ``event: error``
  of that type half-way through a 200 stream, as the real API does when it overloads mid-answer.

Control API (for a standalone process, ``python -m tests.fakes.llm_server --port P`` run from
the repository root; ``--port 0`` picks a free port, and the first line on stdout is always
``fake LLM server listening on http://127.0.0.1:PORT``; SIGTERM stops it):

- ``POST /_script`` with ``{"api": "openai" | "anthropic", "replies": [ {...}, ... ]}`` appends
  replies to that API's queue; answers ``{"queued": N}``.
- ``GET /_requests`` (optionally ``?api=openai``) lists every recorded API request:
  ``[{"api", "method", "path", "headers", "body"}, ...]``.
- ``POST /_default`` with ``{"api": ..., "reply": {...}}`` sets that API's default reply.
- ``POST /_reset`` empties the queues and the request log and clears the defaults.
- ``GET /_health`` answers ``{"ok": true}`` once the server accepts requests.

In tests, use the ``llm_server`` fixture (import it into the test module) or ``FakeLLMServer``
directly: ``server.push("openai", Reply(text="hi"))``, ``server.requests("openai")``. Azure
OpenAI's path (``POST /openai/deployments/{deployment}/chat/completions``) is the "openai" API
too: point ``azure_endpoint`` at ``server.url``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

APIS = ("openai", "anthropic")


@dataclass
class Reply:
    """One scripted answer or fault; see the module docstring for the meaning of each field."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    status: int = 200
    retry_after: str | None = None
    retry_after_ms: int | None = None
    error_type: str | None = None
    delay: float = 0.0
    malformed: bool = False
    drop: bool = False
    stream_error: str | None = None
    refusal: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(**data)


@dataclass
class RecordedRequest:
    """A request the server received: which API, and exactly what was sent."""

    api: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class DroppedConnection(Exception):
    """Raised inside a response body to make the server drop the connection mid-body."""


class FakeLLMServer:
    """The fake provider server. ``start()`` runs it on a free port in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._queues: dict[str, collections.deque[Reply]] = {api: collections.deque() for api in APIS}
        self._defaults: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._counter = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/openai/deployments/{deployment}/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/_script", self._script, methods=["POST"]),
                Route("/_requests", self._list_requests, methods=["GET"]),
                Route("/_default", self._set_default, methods=["POST"]),
                Route("/_reset", self._reset, methods=["POST"]),
                Route("/_health", self._health, methods=["GET"]),
            ]
        )

    # -- public, for tests -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL (the Anthropic SDK's base URL)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI SDK's base URL (it appends ``/chat/completions``)."""
        return f"{self.url}/v1"

    def push(self, api: str, *replies: Reply | dict[str, Any]) -> None:
        """Queue replies for ``api`` ("openai" or "anthropic"), answered in order."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; expected one of {APIS}")
        with self._lock:
            for reply in replies:
                self._queues[api].append(reply if isinstance(reply, Reply) else Reply.from_dict(reply))

    def set_default(self, api: str, reply: Reply | dict[str, Any]) -> None:
        """Use ``reply`` for ``api`` whenever its queue is empty (empty text: the echo text)."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; expected one of {APIS}")
        with self._lock:
            self._defaults[api] = reply if isinstance(reply, Reply) else Reply.from_dict(reply)

    def requests(self, api: str | None = None) -> list[RecordedRequest]:
        """Every API request received so far (of one API when ``api`` is given)."""
        with self._lock:
            return [r for r in self._requests if api is None or r.api == api]

    def reset(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self._requests.clear()
            self._defaults.clear()

    def start(self) -> FakeLLMServer:
        """Bind (a free port when ``port`` is 0) and serve in a daemon thread until ``stop()``."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="critical", access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), name="fake-llm-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- shared request handling -------------------------------------------------------------

    async def _take(self, api: str, request: Request) -> tuple[Reply, dict[str, Any], int]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self._requests.append(
                RecordedRequest(api, request.method, request.url.path, dict(request.headers), body)
            )
            self._counter += 1
            number = self._counter
            queue = self._queues[api]
            reply = queue.popleft() if queue else _default_reply(body, self._defaults.get(api))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return reply, body if isinstance(body, dict) else {}, number

    @staticmethod
    def _error_headers(reply: Reply) -> dict[str, str]:
        headers = {}
        if reply.retry_after is not None:
            headers["retry-after"] = reply.retry_after
        if reply.retry_after_ms is not None:
            headers["retry-after-ms"] = str(reply.retry_after_ms)
        return headers

    @staticmethod
    def _malformed() -> Response:
        return Response('{"id": "broken", "choices": [{"mess', media_type="application/json")

    # -- OpenAI ------------------------------------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        reply, body, number = await self._take("openai", request)
        if reply.status != 200:
            error = {
                "error": {
                    "message": f"fake error {reply.status}",
                    "type": reply.error_type or _openai_error_type(reply.status),
                    "param": None,
                    "code": None,
                }
            }
            return JSONResponse(error, status_code=reply.status, headers=self._error_headers(reply))
        if reply.malformed:
            return self._malformed()
        model = str(body.get("model", "unknown"))
        usage = _openai_usage(reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _openai_chunks(reply, model, number, usage if include_usage else None)
            return _sse(events, reply.drop, done=True)
        completion = _openai_completion(reply, model, number, usage)
        if reply.drop:
            return _dropping_body(json.dumps(completion))
        return JSONResponse(completion)

    # -- Anthropic ---------------------------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        reply, body, number = await self._take("anthropic", request)
        if reply.status != 200:
            error = {
                "type": "error",
                "error": {
                    "type": reply.error_type or _anthropic_error_type(reply.status),
                    "message": f"fake error {reply.status}",
                },
            }
            return JSONResponse(error, status_code=reply.status, headers=self._error_headers(reply))
        if reply.malformed:
            return self._malformed()
        model = str(body.get("model", "unknown"))
        usage = _anthropic_usage(reply)
        if body.get("stream"):
            return _sse(_anthropic_events(reply, model, number, usage), reply.drop, done=False)
        message = _anthropic_message(reply, model, number, usage)
        if reply.drop:
            return _dropping_body(json.dumps(message))
        return JSONResponse(message)

    # -- control API -------------------------------------------------------------------------

    async def _script(self, request: Request) -> Response:
        data = await request.json()
        replies = data.get("replies", [])
        self.push(data.get("api", "openai"), *replies)
        return JSONResponse({"queued": len(replies)})

    async def _list_requests(self, request: Request) -> Response:
        api = request.query_params.get("api")
        return JSONResponse([asdict(r) for r in self.requests(api)])

    async def _set_default(self, request: Request) -> Response:
        data = await request.json()
        self.set_default(data.get("api", "openai"), data.get("reply", {}))
        return JSONResponse({"ok": True})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


# -- wire formats ------------------------------------------------------------------------------


def _last_user_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _default_reply(body: Any, template: Reply | None) -> Reply:
    reply = dataclasses.replace(template) if template is not None else Reply()
    if not reply.text and not reply.tool_calls:
        reply.text = f"Fake answer to: {_last_user_text(body)[:80]}"
    return reply


def _arguments_text(call: dict[str, Any]) -> str:
    arguments = call.get("arguments", {})
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _openai_error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        429: "rate_limit_exceeded",
    }.get(status, "server_error")


def _anthropic_error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")


def _openai_usage(reply: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": 11,
        "completion_tokens": max(len(reply.text.split()), 1),
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    usage.update(reply.usage or {})
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def _openai_tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("id", f"call_{i + 1}"),
            "type": "function",
            "function": {"name": call["name"], "arguments": _arguments_text(call)},
        }
        for i, call in enumerate(reply.tool_calls)
    ]


def _openai_completion(reply: Reply, model: str, number: int, usage: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": reply.refusal}
    if reply.tool_calls:
        message["tool_calls"] = _openai_tool_calls(reply)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": usage,
    }


def _openai_chunks(
    reply: Reply, model: str, number: int, usage: dict[str, Any] | None
) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in _pieces(reply.text)]
    for index, call in enumerate(_openai_tool_calls(reply)):
        head = {"index": index, "id": call["id"], "type": "function"}
        function = {"name": call["function"]["name"], "arguments": ""}
        chunks.append(chunk({"tool_calls": [{**head, "function": function}]}))
        for piece in _pieces(call["function"]["arguments"], 5):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if usage is not None:
        last = {k: v for k, v in chunk({}).items() if k != "choices"}
        chunks.append({**last, "choices": [], "usage": usage})
    return chunks


def _anthropic_usage(reply: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": 13,
        "output_tokens": max(len(reply.text.split()), 1),
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
    usage.update(reply.usage or {})
    return usage


def _anthropic_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    for i, call in enumerate(reply.tool_calls):
        arguments = call.get("arguments", {})
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id", f"toolu_{i + 1}"),
                "name": call["name"],
                "input": json.loads(arguments) if isinstance(arguments, str) else arguments,
            }
        )
    return blocks


def _anthropic_message(reply: Reply, model: str, number: int, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_blocks(reply),
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def _anthropic_events(reply: Reply, model: str, number: int, usage: dict[str, Any]) -> list[dict[str, Any]]:
    start_usage = {**usage, "output_tokens": 1}
    message = {**_anthropic_message(reply, model, number, start_usage), "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    for index, block in enumerate(_anthropic_blocks(reply)):
        if block["type"] == "text":
            empty = {"type": "text", "text": ""}
            events.append({"type": "content_block_start", "index": index, "content_block": empty})
            for piece in _pieces(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            empty = {**block, "input": {}}
            events.append({"type": "content_block_start", "index": index, "content_block": empty})
            for piece in _pieces(json.dumps(block["input"]), 5):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    if reply.stream_error:
        error = {"type": "error", "error": {"type": reply.stream_error, "message": "fake stream error"}}
        events = [*events[: len(events) // 2], error]
    return events


def _sse(events: list[dict[str, Any]], drop: bool, *, done: bool) -> StreamingResponse:
    """An SSE body: OpenAI style (``data:`` lines, ``[DONE]``) or Anthropic style (``event:`` too)."""

    async def body() -> AsyncIterator[bytes]:
        cut = len(events) // 2 if drop else len(events)
        for index, event in enumerate(events):
            if index == cut:
                raise DroppedConnection("dropping the connection mid-stream, as scripted")
            prefix = "" if done else f"event: {event['type']}\n"
            yield f"{prefix}data: {json.dumps(event)}\n\n".encode()
            await asyncio.sleep(0)
        if done:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


def _dropping_body(text: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield text[: len(text) // 2].encode()
        raise DroppedConnection("dropping the connection mid-body, as scripted")

    return StreamingResponse(body(), media_type="application/json")


# -- pytest fixture ----------------------------------------------------------------------------


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A started fake provider server on a free port, stopped after the test."""
    with FakeLLMServer() as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic server (see module docstring).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = FakeLLMServer(args.host, args.port).start()
    print(f"fake LLM server listening on {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
