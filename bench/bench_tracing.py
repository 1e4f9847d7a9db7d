"""Overhead of observability per agent step: tracing off vs on (and metrics, JSON event logs).

Run: python bench/bench_tracing.py [--quick]

A zero-latency FunctionModel makes all measured time Cadenza's own. Each mode runs in a fresh
interpreter, because the global tracer provider can be set only once per process:

* off          — no tracer provider (the default: runs carry no tracing sink, OTel not imported)
* api-no-sdk   — opentelemetry-api imported, no provider set (still no sink)
* sdk-batch    — SDK provider + BatchSpanProcessor + an exporter that drops the batches (the cost
                 of building and queueing spans, what an app exporting over OTLP pays in-loop)
* sdk-capture  — as sdk-batch, with message content capture on
* metrics      — Prometheus collectors on, tracing off
* json-logs    — every event logged as JSON lines to /dev/null (DEBUG: every event), tracing off
* budget       — a token + call budget on every run: the pre-send bound, reservation, settlement

Figures: CPU µs per agent step (one model call, one agent span + one chat span), best of
several repeats, for a pipeline of 10 agents and a parallel of 10 agents. CPU time of the process
(the span exporter's thread included) rather than wall time, because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

MODES = ("off", "api-no-sdk", "sdk-batch", "sdk-capture", "metrics", "json-logs", "budget")


def _setup(mode: str) -> None:
    if mode == "api-no-sdk":
        import opentelemetry.trace  # noqa: F401
    if mode in {"sdk-batch", "sdk-capture"}:
        from collections.abc import Sequence

        from opentelemetry import trace
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Drop(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=65536))
        trace.set_tracer_provider(provider)
        if mode == "sdk-capture":
            from cadenza.observability import capture_content

            capture_content(True)
    if mode == "metrics":
        from cadenza.observability.metrics import enable_metrics

        enable_metrics()
    if mode == "json-logs":
        import os

        from cadenza.observability.logging import configure_logging, enable_event_logs

        configure_logging(json=True, level="DEBUG", stream=open(os.devnull, "w"))  # noqa: SIM115
        enable_event_logs()


async def _measure(runs: int, repeats: int, mode: str) -> dict[str, float]:
    from cadenza import Agent, Budget, FunctionModel, Parallel, Pipeline
    from cadenza.models.base import ModelRequest, ModelResponse
    from cadenza.types.messages import Message
    from cadenza.types.usage import Usage

    def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="ok", usage=Usage(10, 2), model="bench")

    model = FunctionModel(reply, name="bench")
    flows = {
        "pipeline(10)": Pipeline([Agent(f"a{i}", model=model) for i in range(10)]),
        "parallel(10)": Parallel([Agent(f"b{i}", model=model) for i in range(10)]),
    }
    figures: dict[str, float] = {}
    for name, flow in flows.items():
        for _ in range(20):  # warm up: imports, caches
            await flow.run("warm up")
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()  # CPU time of this process (its threads included)
            for _ in range(runs):
                budget = Budget(max_tokens=10**9, max_model_calls=10**6) if mode == "budget" else None
                await flow.run("Summarise the quarter", budget=budget)
            best = min(best, time.process_time() - started)
        figures[name] = best / (runs * 10) * 1e6
    return figures


def _bare_span_cost(repeats: int) -> float:
    """CPU µs of one bare SDK span (10 attributes, started and ended): the floor Cadenza builds on."""
    from opentelemetry import trace

    tracer = trace.get_tracer("bench")
    attributes = {f"gen_ai.attribute_{i}": i for i in range(10)}
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(10_000):
            tracer.start_span("chat bench", attributes=attributes).end()
        best = min(best, time.process_time() - started)
    return best / 10_000 * 1e6


def _child(mode: str, runs: int, repeats: int) -> None:
    _setup(mode)
    figures = asyncio.run(_measure(runs, repeats, mode))
    if mode == "sdk-batch":
        print(f"{_bare_span_cost(repeats):.2f}", file=sys.stderr)
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a rough figure)")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runs = args.runs or (50 if args.quick else 300)
    repeats = args.repeats or (3 if args.quick else 5)
    if args.mode:
        _child(args.mode, runs, repeats)
        return
    rounds = 1 if args.quick else 3
    results: dict[str, dict[str, float]] = {}
    bare_spans: list[float] = []
    # Modes interleaved over rounds, best per mode kept: the machine is shared, and a burst of
    # other work should not land on one mode only.
    for _ in range(rounds):
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, __file__, "--mode", mode, "--runs", str(runs), "--repeats", str(repeats)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            if out.stderr.strip():
                bare_spans.append(float(out.stderr.strip().splitlines()[-1]))
            best = results.setdefault(mode, figures)
            for name, value in figures.items():
                best[name] = min(best[name], value)
    base = results["off"]
    print(f"CPU µs per agent step ({runs} runs x 10 agents, best of {repeats} x {rounds} rounds)")
    print(f"{'mode':<14}" + "".join(f"{name:>26}" for name in base))
    for mode, figures in results.items():
        cells = "".join(f"{figures[name]:>14.1f} ({figures[name] - base[name]:+6.1f} µs)" for name in base)
        print(f"{mode:<14}{cells}")
    if bare_spans:
        print(
            f"for reference, one bare SDK span (10 attributes, started and ended, batch processor): "
            f"{min(bare_spans):.1f} µs"
        )


if __name__ == "__main__":
    main()
