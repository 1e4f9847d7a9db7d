"""Budget alerts as a run sink posting to a webhook; a webhook that is down never fails the run."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cadenza import Agent, Budget, FunctionModel
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.observability.alerts import WebhookAlerts, flush_alerts
from cadenza.types.messages import Message
from cadenza.types.usage import Usage


class _Receiver(ThreadingHTTPServer):
    received: list[tuple[dict[str, str], dict[str, Any]]]


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.server.received.append((headers, body))  # type: ignore[attr-defined]
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = _Receiver(("127.0.0.1", 0), Handler)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _costly(messages: list[Message], request: ModelRequest) -> ModelResponse:
    return ModelResponse(text="ok", usage=Usage(300, 300))


async def test_webhook_sink_posts_each_warning_with_its_headers(receiver: _Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    agent = Agent("spender", model=FunctionModel(_costly))
    result = await agent.run(
        "go", budget=Budget(max_tokens=1000, alert_at=(0.5,)), sinks=[WebhookAlerts(url, {"x-token": "t0k"})]
    )
    await flush_alerts()
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers["x-token"] == "t0k" and headers["content-type"] == "application/json"
    assert body["run_id"] == result.run_id
    assert (body["limit"], body["threshold"], body["used"], body["maximum"]) == (
        "max_tokens",
        0.5,
        600.0,
        1000.0,
    )


async def test_a_webhook_that_is_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    caplog.set_level(logging.WARNING, logger="cadenza.alerts")
    agent = Agent("spender", model=FunctionModel(_costly))
    budget = Budget(max_tokens=1000, alert_at=(0.5,), alert_webhook=f"http://127.0.0.1:{port}/hook")
    result = await agent.run("go", budget=budget)
    await flush_alerts()
    assert result.status == "succeeded"
    assert any("budget alert webhook" in r.getMessage() for r in caplog.records)
