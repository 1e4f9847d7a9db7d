"""A user-defined Step plugs in exactly like the built-in patterns and registers by name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest

from cadenza import Agent, FunctionModel, Parallel, Pipeline, Step, StepInput, register_pattern
from cadenza.engine.context import StepContext
from cadenza.errors import CadenzaError, ConfigurationError
from cadenza.models.base import ModelRequest
from cadenza.patterns import get_pattern, pattern_names, registry
from cadenza.types import Message, StepFailed, StepFinished, StepResult, StepStarted, TextDelta

from ._models import Log


class FirstSuccess(Step):
    """Try each step in turn; the first that succeeds wins (a user's own fallback pattern)."""

    kind = "first_success"

    def __init__(self, steps: Sequence[Step], *, name: str = "first_success") -> None:
        self.steps = list(steps)
        self.name = name

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        errors: list[str] = []
        for index, step in enumerate(self.steps):
            try:
                result = await ctx.call(step, input, f"try#{index + 1}:{step.name}")
            except CadenzaError as exc:
                errors.append(str(exc))
                continue
            return ctx.result(self.name, result.output, metadata={"failures": errors})
        raise CadenzaError(f"{self.name}: every option failed: {errors}")


@pytest.fixture
def registered() -> Iterator[str]:
    name = "first_success_test"
    register_pattern(name)(FirstSuccess)
    yield name
    registry._patterns.pop(name, None)


def broken_agent(name: str) -> Agent:
    def broken(messages: list[Message], request: ModelRequest) -> str:
        raise RuntimeError("down")

    return Agent(name, model=FunctionModel(broken, name=name))


async def test_custom_step_runs_as_a_pipeline_stage() -> None:
    log = Log()
    fallback = FirstSuccess([broken_agent("bad"), log.agent("good", "two")])
    flow = Pipeline([log.agent("first", "one"), fallback])
    result = await flow.run("Task")
    assert result.output == "two"
    assert log.prompts["good"] == ["Task\n\nInput:\none"]
    started = [(e.path, e.kind) for e in result.events if isinstance(e, StepStarted)]
    assert ("pipeline/1:first_success", "first_success") in started
    assert ("pipeline/1:first_success/try#2:good", "agent") in started
    failed = [e.path for e in result.events if isinstance(e, StepFailed)]
    assert failed == ["pipeline/1:first_success/try#1:bad"]
    assert result.usage.requests == 2, "the custom step's children are counted like any others"


async def test_custom_step_runs_as_parallel_branches_without_a_barrier() -> None:
    log = Log()
    flow = Parallel(
        [
            FirstSuccess([log.agent("slow", "S", delay=0.2)], name="left"),
            Pipeline([FirstSuccess([log.agent("quick", "Q")], name="inner"), log.agent("next", "N")]),
        ],
        merge="list",
    )
    result = await flow.run("Task")
    assert result.output == ["S", "N"]
    assert log.started["next"][0] < log.ended["slow"][0]
    finished = [e.path for e in result.events if isinstance(e, StepFinished)]
    assert "parallel/0:left/try#1:slow" in finished
    assert "parallel/1:pipeline/0:inner/try#1:quick" in finished


async def test_custom_step_can_be_streamed_and_run_alone() -> None:
    flow = FirstSuccess([Agent("w", instructions="You write.")])
    deltas = [e async for e in flow.stream("Write about Spain") if isinstance(e, TextDelta)]
    assert deltas and deltas[0].path == "first_success/try#1:w/llm#1"
    result = await flow.run("Write about Spain")
    assert result.output == "".join(d.text for d in deltas)


async def test_custom_step_failure_propagates_like_a_builtin() -> None:
    flow = Pipeline([FirstSuccess([broken_agent("x"), broken_agent("y")], name="fallbacks")])
    with pytest.raises(CadenzaError, match="fallbacks: every option failed"):
        await flow.run("Task")


def test_register_pattern_makes_the_class_available_by_name(registered: str) -> None:
    assert get_pattern(registered) is FirstSuccess
    names = pattern_names()
    assert registered in names
    assert {"pipeline", "parallel", "supervisor", "reflective"} <= set(names)
    assert get_pattern("pipeline") is Pipeline


def test_register_pattern_refuses_what_is_not_a_step() -> None:
    with pytest.raises(ConfigurationError, match="'nope': only Step subclasses"):
        register_pattern("nope")(object)  # type: ignore[type-var]
    assert "nope" not in pattern_names()


def test_unknown_pattern_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown pattern 'no_such'; known: .*pipeline"):
        get_pattern("no_such")


async def test_one_custom_step_serves_concurrent_runs() -> None:
    step = FirstSuccess([Agent("w", instructions="You write.")])
    results = await asyncio.gather(*(step.run(f"Task {i}") for i in range(5)))
    assert [r.output.splitlines()[1] for r in results] == [f"Task: Task {i}" for i in range(5)]
