"""Prometheus metrics from events: a run with a retry, a fallback, a tool call, a failed gate and a
budget alert, read back by parsing the text exposition."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cadenza import Agent, Budget, FunctionModel, Pipeline, RetryPolicy, tool
from cadenza.errors import ModelError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.observability.metrics import CadenzaMetrics, disable_metrics, render_metrics
from cadenza.observability.sinks import register_observer, unregister_observer
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage


@pytest.fixture
def metrics() -> Iterator[CadenzaMetrics]:
    collected = CadenzaMetrics()
    register_observer(collected.sink)
    set_price("acme:big", input_per_mtok="2", output_per_mtok="8")
    yield collected
    unregister_observer(collected.sink)
    clear_price_overrides()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class _Flaky:
    """A priced model that fails once with a retryable error, then answers."""

    name = "acme:big"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.calls == 1:
            raise ModelError("overloaded", model=self.name, status=503, retryable=True)
        return ModelResponse(text="draft", usage=Usage(100, 20))


class _Broken:
    name = "acme:broken"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise ModelError("bad request", model=self.name, status=400)


@tool
def search(q: str) -> str:
    """Search."""
    return "results"


def _tool_user(messages: list[Message], request: ModelRequest) -> ModelResponse:
    if request.tools and messages[-1].role != "tool":
        return ModelResponse(tool_calls=[ToolCall("c1", "search", '{"q": "x"}')], usage=Usage(10, 2))
    return ModelResponse(text="GOOD", usage=Usage(10, 3))


async def test_metrics_count_runs_tokens_cost_retries_fallbacks_tools_gates_and_alerts(
    metrics: CadenzaMetrics,
) -> None:
    fast_retry = RetryPolicy(max_attempts=3, base_delay=0.001)
    writer = Agent("writer", model=[_Broken(), _Flaky()], retry=fast_retry)
    checker = Agent("checker", model=FunctionModel(_tool_user, name="tools"), tools=[search])
    attempts = {"n": 0}

    def second_time_lucky(output: object) -> bool:
        attempts["n"] += 1
        return attempts["n"] > 1

    flow = Pipeline([writer, checker], gates={"checker": second_time_lucky}, name="flow")
    result = await flow.run("Go", budget=Budget(max_model_calls=20, alert_at=(0.25,)))

    samples = _samples(metrics.render())
    assert samples[("cadenza_runs_total", (("status", "succeeded"), ("workflow", "flow")))] == 1
    assert samples[("cadenza_runs_in_progress", (("workflow", "flow"),))] == 0
    assert samples[("cadenza_retries_total", (("model", "acme:big"),))] == 1
    assert (
        samples[("cadenza_fallbacks_total", (("from_model", "acme:broken"), ("to_model", "acme:big")))] == 1
    )
    assert samples[("cadenza_tool_calls_total", (("outcome", "ok"), ("tool", "search")))] == 2
    assert samples[("cadenza_gate_checks_total", (("gate", "second_time_lucky"), ("passed", "false")))] == 1
    assert samples[("cadenza_gate_failures_total", (("gate", "second_time_lucky"),))] == 1
    assert samples[("cadenza_budget_alerts_total", (("limit", "max_model_calls"), ("scope", "run")))] == 1

    def tokens(agent: str, model: str, direction: str) -> float:
        key = (("agent", agent), ("direction", direction), ("model", model), ("workflow", "flow"))
        return samples[("cadenza_tokens_total", key)]

    assert tokens("writer", "acme:big", "input") == 100
    assert tokens("checker", "function:tools", "output") == 2 * (2 + 3)
    total_in = sum(
        v for (n, _), v in samples.items() if n == "cadenza_tokens_total" and ("direction", "input") in _
    )
    assert total_in == result.usage.input_tokens
    cost = samples[
        ("cadenza_cost_usd_total", (("agent", "writer"), ("model", "acme:big"), ("workflow", "flow")))
    ]
    assert cost == pytest.approx(float(result.cost))
    step_count = samples[
        ("cadenza_step_duration_seconds_count", (("kind", "agent"), ("name", "checker"), ("outcome", "ok")))
    ]
    assert step_count == 2  # the first try and the retry after the failed gate
    assert (
        samples[("cadenza_run_duration_seconds_count", (("status", "succeeded"), ("workflow", "flow")))] == 1
    )


async def test_failed_runs_are_counted_by_status(metrics: CadenzaMetrics) -> None:
    agent = Agent("only", model=_Broken())
    with pytest.raises(ModelError):
        await agent.run("Go")
    samples = _samples(metrics.render())
    assert samples[("cadenza_runs_total", (("status", "failed"), ("workflow", "only")))] == 1
    assert (
        samples[
            (
                "cadenza_step_duration_seconds_count",
                (("kind", "agent"), ("name", "only"), ("outcome", "error")),
            )
        ]
        == 1
    )


def test_render_metrics_is_prometheus_text() -> None:
    text = render_metrics()
    disable_metrics()  # rendering enabled collection for this process; later tests need none
    assert "# TYPE cadenza_runs_total counter" in text
    assert "# TYPE cadenza_step_duration_seconds histogram" in text
