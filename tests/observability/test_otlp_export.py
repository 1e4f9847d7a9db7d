"""OTLP over HTTP, end to end: ``setup_tracing()`` in a fresh process, configured only by the
standard OTEL_* variables, exports a run's spans to a real HTTP receiver started by the test,
which decodes the protobuf request."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class _Collector(ThreadingHTTPServer):
    requests: list[tuple[str, dict[str, str], ExportTraceServiceRequest]]


@pytest.fixture
def collector() -> Iterator[_Collector]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            decoded = ExportTraceServiceRequest()
            decoded.ParseFromString(body)
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.server.requests.append((self.path, headers, decoded))  # type: ignore[attr-defined]
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Collector(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


_SCRIPT = """
import asyncio
from cadenza import Agent, Pipeline
from cadenza.observability import setup_tracing

provider = setup_tracing()
flow = Pipeline([Agent("research"), Agent("summary")], name="report")
asyncio.run(flow.run("Otters"))
provider.shutdown()  # flushes the batch processor
"""


def test_spans_reach_an_otlp_http_receiver_configured_by_otel_variables(collector: _Collector) -> None:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=secret-123,Langsmith-Project=otters",
        "OTEL_SERVICE_NAME": "otter-service",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
    }
    env.pop("OTEL_TRACES_EXPORTER", None)
    env.pop("CADENZA_TRACING", None)
    subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True, timeout=60)

    assert collector.requests, "no OTLP request reached the receiver"
    path, headers, _ = collector.requests[0]
    assert path == "/v1/traces"
    assert headers["x-api-key"] == "secret-123"
    assert headers["langsmith-project"] == "otters"
    assert headers["content-type"] == "application/x-protobuf"

    spans = []
    for _, _, request in collector.requests:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert resource["service.name"] == "otter-service"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "cadenza"
                spans.extend(scope_spans.spans)
    by_name = {s.name: s for s in spans}
    assert {
        "invoke_workflow report",
        "pipeline report",
        "invoke_agent research",
        "invoke_agent summary",
        "chat offline",
    } <= set(by_name)
    chat = by_name["chat offline"]
    attributes = {a.key: a.value for a in chat.attributes}
    assert attributes["gen_ai.operation.name"].string_value == "chat"
    assert attributes["gen_ai.provider.name"].string_value == "offline"
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    assert "gen_ai.system" not in attributes  # opted in to the latest names only
    research = by_name["invoke_agent research"]
    assert chat.parent_span_id in {s.span_id for s in spans}
    assert research.parent_span_id == by_name["pipeline report"].span_id
    assert by_name["pipeline report"].parent_span_id == by_name["invoke_workflow report"].span_id


def test_console_exporter_and_a_bad_exporter_name() -> None:
    script = (
        "import asyncio\n"
        "from cadenza import Agent\n"
        "from cadenza.observability import setup_tracing\n"
        "provider = setup_tracing()\n"
        "asyncio.run(Agent('solo').run('hi'))\n"
        "provider.shutdown()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_TRACING"} | {
        "OTEL_TRACES_EXPORTER": "console"
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"name": "invoke_agent solo"' in out.stdout
    assert '"name": "chat offline"' in out.stdout

    env["OTEL_TRACES_EXPORTER"] = "zipkin-ish"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "OTEL_TRACES_EXPORTER: unknown exporter 'zipkin-ish'" in out.stderr
