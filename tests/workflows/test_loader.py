"""Loading workflow files into runnable Steps: every feature of the format, run offline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cadenza import Agent, Parallel, Pipeline, Reflective, Step, StepInput, Supervisor, register_pattern, tool
from cadenza.engine.context import StepContext
from cadenza.errors import GateFailedError
from cadenza.models.function import FunctionModel
from cadenza.patterns.registry import SpecBuilder
from cadenza.tools.registry import register_tool, unregister_tool
from cadenza.types.results import StepResult
from cadenza.workflows import WorkflowFileError, load_workflow, load_workflow_text


def load(text: str, **kwargs: Any) -> Any:
    return load_workflow_text(textwrap.dedent(text), "flow.yaml", **kwargs)


async def test_all_four_patterns_nest_and_run() -> None:
    flow = load("""\
        name: nested
        agents:
          lead: {instructions: Lead.}
          a: {instructions: Analyst A., capabilities: [analysis]}
          b: {instructions: Analyst B.}
          writer: {instructions: Writer.}
          critic: {instructions: Critic.}
        workflow:
          pipeline:
            stages:
              - supervisor: {supervisor: lead, specialists: [a, b], max_turns: 2}
              - parallel: {branches: [a, b], merge: dict}
              - reflective: {agent: writer, critic: critic, threshold: 0.7}
        """)
    root = flow.step
    assert isinstance(root, Pipeline)
    assert [type(s) for s in root.stages] == [Supervisor, Parallel, Reflective]
    result = await flow.run("Plant-based milk in Japan")
    assert result.status == "succeeded"
    assert "offline model" in result.output
    paths = {e.path for e in result.events}
    assert "pipeline/1:parallel/0:a" in paths


async def test_named_steps_are_reusable_and_named_by_their_key() -> None:
    flow = load("""\
        name: t
        agents: {a: {}, b: {}}
        steps:
          review: {parallel: {branches: [a, b], merge: list}}
        workflow: {pipeline: {stages: [a, review]}}
        """)
    stage = flow.step.stages[1]
    assert isinstance(stage, Parallel) and stage.name == "review"
    result = await flow.run("x")
    assert isinstance(result.output, list) and len(result.output) == 2


def test_agent_settings_and_defaults() -> None:
    flow = load("""\
        name: t
        defaults: {model: offline, max_tokens: 300, temperature: 0.2, retry: {max_attempts: 2}}
        agents:
          a:
            instructions: "Analyst.\\nSecond line."
            capabilities: [x]
            max_tool_rounds: 3
            temperature: 0.9
        workflow: a
        """)
    agent = flow.step
    assert isinstance(agent, Agent)
    assert agent.max_tokens == 300 and agent.temperature == 0.9 and agent.max_tool_rounds == 3
    assert agent.retry.max_attempts == 2 and agent.description == "Analyst."
    assert agent.model.name == "offline"


def test_model_fallback_list_and_override() -> None:
    text = """\
        name: t
        agents: {a: {model: [anthropic:claude-3-5-haiku-latest, offline]}}
        workflow: a
        """
    flow = load(text)
    assert [m.name for m in flow.step.models][-1] == "offline" and len(flow.step.models) == 2
    overridden = load(text, model_override="offline")
    assert [m.name for m in overridden.step.models] == ["offline"]


async def test_output_schema_becomes_a_validated_model() -> None:
    flow = load("""\
        name: t
        agents:
          rater:
            output_schema:
              type: object
              properties:
                score: {type: integer, minimum: 1, maximum: 5}
                label: {enum: [good, bad]}
                tags: {type: array, items: {type: string}, minItems: 1}
              required: [score, label, tags]
        workflow: rater
        """)
    result = await flow.run("Rate this")
    output = result.output
    assert 1 <= output.score <= 5 and output.label == "good" and output.tags
    output_type = flow.step.output_type
    with pytest.raises(ValueError):
        output_type.model_validate({"score": 9, "label": "good", "tags": ["x"]})


async def test_env_references_resolve_and_dump_shows_the_reference() -> None:
    flow = load(
        """\
        name: t
        agents:
          a: {instructions: "Key is ${MY_SECRET}. Region ${REGION:-eu}."}
        workflow: a
        """,
        environ={"MY_SECRET": "hunter2"},
    )
    assert flow.step.instructions == "Key is hunter2. Region eu."
    dumped = flow.dump()
    assert dumped["agents"]["a"]["instructions"] == "Key is ${MY_SECRET}. Region ${REGION:-eu}."
    assert "hunter2" not in json.dumps(dumped)


def test_dollar_escape_is_literal() -> None:
    flow = load("name: t\nagents: {a: {instructions: 'costs $${PRICE}'}}\nworkflow: a\n", environ={})
    assert flow.step.instructions == "costs ${PRICE}"


async def test_json_files_load_too(tmp_path: Path) -> None:
    file = tmp_path / "flow.json"
    file.write_text(
        json.dumps(
            {
                "name": "json-flow",
                "agents": {"a": {"instructions": "A."}, "b": {"instructions": "B."}},
                "workflow": {"parallel": {"branches": ["a", "b"], "merge": "vote"}},
            },
            indent=2,
        )
    )
    flow = load_workflow(file)
    assert (await flow.run("hello")).status == "succeeded"
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "name": "x",\n  "workflow": {"parallel": {"branches": []}}\n}\n')
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(broken)
    assert info.value.problems[0].line == 3


async def test_tools_declared_in_the_file_and_registered_tools(tmp_path: Path) -> None:
    (tmp_path / "weather_tools.py").write_text(
        textwrap.dedent("""\
        def weather_forecast(city: str) -> str:
            '''Get the weather forecast for a city.'''
            return f"sunny in {city}"
        """)
    )

    @tool
    def currency_rates(currency: str) -> str:
        """Look up currency exchange rates."""
        return "1.08"

    register_tool(currency_rates)
    try:
        (tmp_path / "flow.yaml").write_text(
            textwrap.dedent("""\
            name: t
            tools:
              forecast: weather_tools.py:weather_forecast
            agents:
              a: {instructions: Travel agent., tools: [forecast, currency_rates]}
            workflow: a
            """)
        )
        flow = load_workflow(tmp_path / "flow.yaml")
        assert set(flow.step.tools) == {"forecast", "currency_rates"}
        result = await flow.run("What is the weather forecast in Lisbon, and currency rates?")
        assert "sunny in" in result.output
    finally:
        unregister_tool("currency_rates")


async def test_gates_of_every_kind(tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text("def never(output):\n    return 'needs more cowbell'\n")
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent("""\
        name: t
        agents:
          a: {instructions: Writer.}
          judge: {instructions: Judge.}
        workflow:
          pipeline:
            stages: [a]
            gates:
              a:
                - min_length: 5
                - judge: judge
                  criteria: Complete.
                - python: checks.py:never
            max_gate_retries: 1
        """)
    )
    flow = load_workflow(tmp_path / "flow.yaml")
    with pytest.raises(GateFailedError) as info:
        await flow.run("x")
    assert "needs more cowbell" in str(info.value) and info.value.attempts == 2


async def test_schema_gate_from_json_schema() -> None:
    flow = load("""\
        name: t
        agents: {a: {instructions: Writer.}}
        workflow:
          pipeline:
            stages: [a]
            gates:
              0: {schema: {type: object, properties: {title: {type: string}}, required: [title]}}
            max_gate_retries: 0
        """)
    with pytest.raises(GateFailedError) as info:
        await flow.run("x")
    assert "does not match GateOutput" in str(info.value)


async def test_merge_with_an_agent_and_python(tmp_path: Path) -> None:
    (tmp_path / "merges.py").write_text("def longest(outputs):\n    return max(outputs, key=len)\n")
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent("""\
        name: t
        agents: {a: {instructions: A.}, bb: {instructions: B is longer.}, synth: {instructions: Synth.}}
        steps:
          by_agent: {parallel: {branches: [a, bb], merge: {agent: synth}}}
          by_python: {parallel: {branches: [a, bb], merge: {python: "merges.py:longest"}}}
        workflow: {pipeline: {stages: [by_agent, by_python]}}
        """)
    )
    flow = load_workflow(tmp_path / "flow.yaml")
    result = await flow.run("x")
    assert "B is longer." in result.output


class Repeat(Step):
    """A custom pattern for the test: run a child ``times`` times in a row."""

    kind = "repeat"

    def __init__(self, child: Step, times: int, name: str = "repeat") -> None:
        self.child, self.times, self.name = child, times, name

    @classmethod
    def from_spec(cls, options: dict[str, Any], build: SpecBuilder) -> Step:
        times = options.get("times", 2)
        if not isinstance(times, int) or times < 1:
            build.problem("times must be a positive integer", "times", expected="1 or more")
        return cls(
            build.step(options.get("step"), "step"),
            times if isinstance(times, int) else 1,
            options.get("name", "repeat"),
        )

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        data = input.data
        for i in range(self.times):
            data = (await ctx.call(self.child, StepInput(input.task, data), f"{i}:{self.child.name}")).output
        return ctx.result(self.name, data)


async def test_custom_pattern_from_spec() -> None:
    register_pattern("repeat")(Repeat)
    flow = load("""\
        name: t
        agents: {a: {instructions: A.}}
        workflow:
          repeat: {times: 3, step: a}
        """)
    result = await flow.run("x")
    assert sum(1 for e in result.events if getattr(e, "name", None) == "a" and e.type == "step_started") == 3

    with pytest.raises(WorkflowFileError) as info:
        load("""\
            name: t
            agents: {a: {}}
            workflow:
              repeat:
                times: 0
                step: {parallel: {branches: [ghost]}}
            """)
    keys = {(p.key, p.line) for p in info.value.problems}
    assert ("workflow.repeat.times", 5) in keys
    assert ("workflow.repeat.step.parallel.branches[0]", 6) in keys


def test_budget_section_becomes_a_budget() -> None:
    budget_module = pytest.importorskip("cadenza.engine.budget")
    flow = load("""\
        name: t
        agents: {a: {}}
        workflow: a
        budget: {max_cost_usd: 0.5, max_model_calls: 10, alert_at: [0.5, 0.9]}
        """)
    assert isinstance(flow.budget, budget_module.Budget)
    assert flow.budget.max_model_calls == 10 and flow.budget.alert_at == (0.5, 0.9)


async def test_function_model_agents_from_a_registered_provider() -> None:
    """A file can name any model a registered provider builds (here a scripted FunctionModel)."""
    from cadenza.models.base import ModelResponse
    from cadenza.models.registry import register_provider

    def reply(messages: Any, request: Any) -> ModelResponse:
        return ModelResponse(text="scripted answer")

    register_provider("scripted", lambda name: FunctionModel(reply))
    flow = load("name: t\nagents: {a: {model: 'scripted:v1'}}\nworkflow: a\n")
    assert (await flow.run("x")).output == "scripted answer"
