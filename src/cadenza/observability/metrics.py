"""Prometheus metrics from the run's events: runs, latencies, tokens, cost, retries, gates.

``enable_metrics()`` gives every run started afterwards a small per-run sink that updates the
collectors below, and returns them; ``render_metrics()`` is the Prometheus text exposition the
HTTP service mounts at ``/metrics`` (and the CLI prints). The collectors live in their own
``CollectorRegistry`` unless one is passed (pass ``prometheus_client.REGISTRY`` to expose them
from an application's existing endpoint).

Labels stay low-cardinality on purpose: workflow, step kind and name, agent, model, tool, gate
— all fixed by the workflow definitions — never run ids or paths.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cadenza.types.events import (
    BudgetWarning,
    Event,
    FallbackUsed,
    GateChecked,
    LLMCall,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    ToolCalled,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_lock = threading.Lock()
_metrics: CadenzaMetrics | None = None


class CadenzaMetrics:
    """The collectors, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        except ImportError:  # pragma: no cover - a declared dependency
            from cadenza.errors import ConfigurationError

            raise ConfigurationError(
                "metrics need prometheus-client: pip install prometheus-client"
            ) from None
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "cadenza_runs", "Finished runs by workflow and status.", ["workflow", "status"], registry=r
        )
        self.runs_in_progress = Gauge(
            "cadenza_runs_in_progress", "Runs started and not finished.", ["workflow"], registry=r
        )
        self.run_seconds = Histogram(
            "cadenza_run_duration_seconds",
            "Wall time of runs.",
            ["workflow", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "cadenza_step_duration_seconds",
            "Wall time of steps by pattern kind and name.",
            ["kind", "name", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_seconds = Histogram(
            "cadenza_model_call_duration_seconds",
            "Wall time of model calls, retries included.",
            ["model", "agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "cadenza_tokens",
            "Tokens by workflow, agent, model and direction (input/output).",
            ["workflow", "agent", "model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "cadenza_cost_usd",
            "Cost in USD by workflow, agent and model.",
            ["workflow", "agent", "model"],
            registry=r,
        )
        self.model_calls = Counter(
            "cadenza_model_calls", "Completed model calls.", ["model", "agent"], registry=r
        )
        self.retries = Counter(
            "cadenza_retries", "Model call attempts that failed and were retried.", ["model"], registry=r
        )
        self.fallbacks = Counter(
            "cadenza_fallbacks", "Switches to a fallback model.", ["from_model", "to_model"], registry=r
        )
        self.tool_calls = Counter(
            "cadenza_tool_calls",
            "Tool calls by tool and outcome (ok/error).",
            ["tool", "outcome"],
            registry=r,
        )
        self.gate_checks = Counter(
            "cadenza_gate_checks", "Quality gate checks by gate and result.", ["gate", "passed"], registry=r
        )
        self.gate_failures = Counter(
            "cadenza_gate_failures", "Failed quality gate checks.", ["gate"], registry=r
        )
        self.budget_alerts = Counter(
            "cadenza_budget_alerts", "Budget alert thresholds crossed.", ["limit", "scope"], registry=r
        )
        self.queue_depth = Gauge(
            "cadenza_queue_depth", "Runs waiting for a worker (set by the dispatcher).", ["queue"], registry=r
        )

    def sink(self, run_id: str, workflow: str) -> MetricsSink:
        """A sink for one run (the observer factory ``enable_metrics`` registers)."""
        return MetricsSink(self, workflow)

    def render(self) -> str:
        """The Prometheus text exposition of every collector."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class MetricsSink:
    """Updates the collectors from one run's events; remembers which agent each path is."""

    __slots__ = ("_agents", "_m", "_workflow")

    def __init__(self, metrics: CadenzaMetrics, workflow: str) -> None:
        self._m = metrics
        self._workflow = workflow
        self._agents: dict[str, str] = {}

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            try:
                handler(self, event)
            except Exception as exc:  # observing must never break the run
                from cadenza.observability.sinks import sink_failed

                sink_failed("metrics", event, exc)

    def _agent_of(self, path: str) -> str:
        """The name of the agent step a model or tool call path belongs to."""
        while path:
            path = path.rpartition("/")[0]
            name = self._agents.get(path)
            if name is not None:
                return name
        return ""

    def _run_started(self, event: RunStarted) -> None:
        self._m.runs_in_progress.labels(self._workflow).inc()

    def _run_ended(self, status: str, duration: float) -> None:
        m = self._m
        m.runs_in_progress.labels(self._workflow).dec()
        m.runs.labels(self._workflow, status).inc()
        m.run_seconds.labels(self._workflow, status).observe(duration)
        self._agents.clear()

    def _run_finished(self, event: RunFinished) -> None:
        self._run_ended("succeeded", event.duration)

    def _run_failed(self, event: RunFailed) -> None:
        self._run_ended(event.status, event.duration)

    def _step_started(self, event: StepStarted) -> None:
        if event.kind == "agent":
            self._agents[event.path] = event.name

    def _step_finished(self, event: StepFinished) -> None:
        self._agents.pop(event.path, None)
        self._m.step_seconds.labels(event.kind, event.name, "ok").observe(event.duration)

    def _step_failed(self, event: StepFailed) -> None:
        self._agents.pop(event.path, None)
        self._m.step_seconds.labels(event.kind, event.name, "error").observe(event.duration)

    def _llm_call(self, event: LLMCall) -> None:
        m = self._m
        agent = self._agent_of(event.path)
        m.model_calls.labels(event.model, agent).inc()
        m.model_seconds.labels(event.model, agent).observe(event.duration)
        m.tokens.labels(self._workflow, agent, event.model, "input").inc(event.usage.input_tokens)
        m.tokens.labels(self._workflow, agent, event.model, "output").inc(event.usage.output_tokens)
        if event.cost:
            m.cost.labels(self._workflow, agent, event.model).inc(float(event.cost))

    def _tool_called(self, event: ToolCalled) -> None:
        self._m.tool_calls.labels(event.tool, "error" if event.error is not None else "ok").inc()

    def _retry(self, event: RetryScheduled) -> None:
        self._m.retries.labels(event.model).inc()

    def _fallback(self, event: FallbackUsed) -> None:
        self._m.fallbacks.labels(event.from_model, event.to_model).inc()

    def _gate(self, event: GateChecked) -> None:
        self._m.gate_checks.labels(event.gate, "true" if event.passed else "false").inc()
        if not event.passed:
            self._m.gate_failures.labels(event.gate).inc()

    def _budget(self, event: BudgetWarning) -> None:
        self._m.budget_alerts.labels(event.limit, event.scope).inc()


_HANDLERS: dict[type[Event], Any] = {
    RunStarted: MetricsSink._run_started,
    RunFinished: MetricsSink._run_finished,
    RunFailed: MetricsSink._run_failed,
    StepStarted: MetricsSink._step_started,
    StepFinished: MetricsSink._step_finished,
    StepFailed: MetricsSink._step_failed,
    LLMCall: MetricsSink._llm_call,
    ToolCalled: MetricsSink._tool_called,
    RetryScheduled: MetricsSink._retry,
    FallbackUsed: MetricsSink._fallback,
    GateChecked: MetricsSink._gate,
    BudgetWarning: MetricsSink._budget,
}


def enable_metrics(registry: CollectorRegistry | None = None) -> CadenzaMetrics:
    """Collect metrics from every run started from now on (idempotent); returns the collectors."""
    from cadenza.observability.sinks import register_observer

    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = CadenzaMetrics(registry)
        register_observer(_metrics.sink)
        return _metrics


def disable_metrics() -> None:
    """Stop collecting for new runs (the collected values stay readable)."""
    from cadenza.observability.sinks import unregister_observer

    if _metrics is not None:
        unregister_observer(_metrics.sink)


def render_metrics() -> str:
    """Prometheus text format of this process's metrics (empty collectors if never enabled)."""
    return enable_metrics().render() if _metrics is None else _metrics.render()
