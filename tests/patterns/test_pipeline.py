"""``Pipeline``: hand-off, gates of each kind, retries with feedback, rollback and failure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from cadenza import Agent, FunctionModel, Pipeline, Step, StepInput, Verdict
from cadenza.engine.context import StepContext
from cadenza.errors import GateFailedError, OutputValidationError, WorkflowDefinitionError
from cadenza.models.base import ModelRequest
from cadenza.types import GateChecked, LLMCall, Message, StepResult, StepStarted

from ._models import Log, prompt_of


class Remember(Step):
    """A custom stage that writes into the run's working memory and returns its value."""

    kind = "remember"

    def __init__(self, name: str, key: str, value: Any) -> None:
        self.name = name
        self.key = key
        self.value = value

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        state = ctx.run.state
        state[self.key] = self.value
        state.setdefault("log", []).append(self.name)
        return ctx.result(self.name, self.value)


async def test_outputs_are_handed_from_stage_to_stage() -> None:
    log = Log()
    flow = Pipeline(
        [
            log.agent("a", lambda p: "alpha"),
            log.agent("b", lambda p: p.split("Input:\n", 1)[1] + "+beta"),
            log.agent("c", lambda p: p.split("Input:\n", 1)[1] + "+gamma"),
        ]
    )
    result = await flow.run("Build it")
    assert result.output == "alpha+beta+gamma"
    assert log.prompts["a"] == ["Build it"]
    assert log.prompts["b"] == ["Build it\n\nInput:\nalpha"]
    started = [e.path for e in result.events if isinstance(e, StepStarted)]
    assert started == ["pipeline", "pipeline/0:a", "pipeline/1:b", "pipeline/2:c"]


def _failing_then_passing(outcome_first: Any) -> Any:
    """A gate function that returns ``outcome_first`` on its first check and passes afterwards."""
    calls: list[Any] = []

    def gate(output: Any) -> Any:
        calls.append(output)
        if len(calls) == 1:
            if isinstance(outcome_first, Exception):
                raise outcome_first
            return outcome_first
        return True

    gate.calls = calls  # type: ignore[attr-defined]
    return gate


@pytest.mark.parametrize(
    ("first", "feedback"),
    [
        (False, "the output did not pass gate"),
        ("Mention Spain.", "Mention Spain."),
        (Verdict(False, "Add figures."), "Add figures."),
        (ValueError("too short"), "ValueError: too short"),
    ],
    ids=["bool", "str", "verdict", "raises"],
)
async def test_callable_gate_failure_retries_the_stage_with_feedback(first: Any, feedback: str) -> None:
    log = Log()
    gate = _failing_then_passing(first)
    flow = Pipeline([log.agent("writer", lambda p: f"draft {len(log.prompts['writer'])}")], gates=[gate])
    result = await flow.run("Write")
    assert result.output == "draft 2"
    assert gate.calls == ["draft 1", "draft 2"]
    assert log.prompts["writer"][1] == f"Write\n\nFeedback to address:\n{feedback}"
    checks = [(e.path, e.passed, e.feedback, e.attempt) for e in result.events if isinstance(e, GateChecked)]
    assert checks == [
        ("pipeline/0:writer", False, feedback, 1),
        ("pipeline/0:writer@retry1", True, "", 2),
    ]


async def test_callable_gate_returning_none_or_true_or_passing_verdict_passes() -> None:
    for outcome in (None, True, Verdict(True)):
        log = Log()
        flow = Pipeline([log.agent("w")], gates=[lambda out, o=outcome: o])
        await flow.run("x")
        assert len(log.prompts["w"]) == 1


async def test_async_callable_gate() -> None:
    seen: list[Any] = []

    async def gate(output: Any) -> bool:
        seen.append(output)
        return len(seen) > 1

    log = Log()
    await Pipeline([log.agent("w")], gates=[gate]).run("x")
    assert len(seen) == 2


class Summary(BaseModel):
    title: str
    words: int


async def test_schema_gate_retries_until_the_output_validates() -> None:
    log = Log()
    replies = iter(["not json", '{"title": "t"}', '{"title": "t", "words": 3}'])
    flow = Pipeline([log.agent("w", lambda p: next(replies))], gates=[Summary], max_gate_retries=2)
    result = await flow.run("Summarise")
    assert json.loads(result.output) == {"title": "t", "words": 3}
    feedbacks = [e.feedback for e in result.events if isinstance(e, GateChecked) and not e.passed]
    assert len(feedbacks) == 2
    assert all(f.startswith("output does not match Summary") for f in feedbacks)
    assert "words: Field required" in feedbacks[1]
    assert "Feedback to address:\noutput does not match Summary" in log.prompts["w"][1]


async def test_schema_gate_accepts_instances_and_dicts() -> None:
    class Emit(Step):
        kind = "emit"

        def __init__(self, name: str, value: Any) -> None:
            self.name, self.value = name, value

        async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
            return ctx.result(self.name, self.value)

    flow = Pipeline(
        [Emit("obj", Summary(title="a", words=1)), Emit("dict", {"title": "b", "words": 2})],
        gates=[Summary, Summary],
    )
    result = await flow.run("x")
    assert result.output == {"title": "b", "words": 2}


def judge_model(verdicts: list[tuple[bool, str]], prompts: list[str]) -> FunctionModel:
    def reply(messages: list[Message], request: ModelRequest) -> str:
        prompts.append(prompt_of(messages))
        passed, feedback = verdicts.pop(0)
        return json.dumps({"passed": passed, "feedback": feedback})

    return FunctionModel(reply, name="judge")


async def test_llm_judge_gate_feedback_reaches_the_stage() -> None:
    log = Log()
    judge_prompts: list[str] = []
    judge = Agent(
        "judge",
        model=judge_model([(False, "Cite a source."), (True, "Good.")], judge_prompts),
        instructions="The answer must cite a source.",
    )
    flow = Pipeline([log.agent("writer", lambda p: f"v{len(log.prompts['writer'])}")], gates=[judge])
    result = await flow.run("Write")
    assert result.output == "v2"
    assert "Criteria:\nThe answer must cite a source." in judge_prompts[0]
    assert judge_prompts[0].endswith("Output:\nv1")
    assert judge_prompts[1].endswith("Output:\nv2")
    assert log.prompts["writer"][1].endswith("Feedback to address:\nCite a source.")
    judge_calls = [e.path for e in result.events if isinstance(e, LLMCall) and e.model == "function:judge"]
    assert len(judge_calls) == 2 and len(set(judge_calls)) == 2


async def test_judge_gates_on_different_stages_have_distinct_paths() -> None:
    log = Log()
    judge = Agent("judge", model=judge_model([(True, "ok")] * 4, []))
    flow = Pipeline([log.agent("a"), log.agent("b")], gates=[judge, judge])
    result = await flow.run("x")
    paths = [e.path for e in result.events if isinstance(e, LLMCall) and e.model == "function:judge"]
    assert len(paths) == 2
    assert len(set(paths)) == 2, f"two different judge calls share a path: {paths}"


async def test_gate_failure_rolls_state_back_and_fails_with_reason_and_last_good_output() -> None:
    log = Log()
    flow = Pipeline(
        [Remember("first", "stage", "first"), Remember("second", "stage", "second"), log.agent("w")],
        gates={"second": None, 2: lambda out: "Never good enough."},
        max_gate_retries=1,
    )
    state: dict[str, Any] = {"keep": 1}
    with pytest.raises(GateFailedError) as info:
        await flow.run("x", state=state)
    err = info.value
    assert err.feedback == "Never good enough."
    assert err.attempts == 2
    assert err.gate == "<lambda>"
    assert err.last_good_output == "second"
    assert "Never good enough." in str(err) and "<lambda>" in str(err)
    assert err.path == "pipeline/2:w@retry1"
    assert log.prompts["w"][1].endswith("Feedback to address:\nNever good enough.")
    # Gate-less stages still count as good: state is as the second stage left it.
    assert state == {"keep": 1, "stage": "second", "log": ["first", "second"]}
    assert err.state == state


async def test_rollback_undoes_the_failing_stage_and_each_retry_starts_from_good_state() -> None:
    flow = Pipeline(
        [Remember("good", "stage", "good"), Remember("bad", "stage", "bad")],
        gates=[None, lambda out: False],
        max_gate_retries=2,
    )
    state: dict[str, Any] = {}
    with pytest.raises(GateFailedError) as info:
        await flow.run("x", state=state)
    assert state == {"stage": "good", "log": ["good"]}, "the failing stage's writes are undone"
    assert info.value.last_good_output == "good"
    assert info.value.attempts == 3


async def test_retry_starts_from_the_last_good_state() -> None:
    flow = Pipeline([Remember("step", "k", 1)], gates=[_failing_then_passing(False)])
    state: dict[str, Any] = {}
    result = await flow.run("x", state=state)
    assert result.output == 1
    assert state["log"] == ["step"], "the failed attempt's writes were rolled back before the retry"


async def test_failure_in_the_first_gate_has_no_last_good_output() -> None:
    flow = Pipeline([Remember("only", "k", 1)], gates=[lambda out: False], max_gate_retries=0)
    state: dict[str, Any] = {"before": True}
    with pytest.raises(GateFailedError) as info:
        await flow.run("x", state=state)
    assert info.value.last_good_output is None
    assert info.value.attempts == 1
    assert state == {"before": True}


async def test_retry_paths_are_numbered() -> None:
    log = Log()
    flow = Pipeline([log.agent("w")], gates=[lambda out: False], max_gate_retries=2)
    events: list[Any] = []
    with pytest.raises(GateFailedError):
        await flow.run("x", sinks=[events.append])
    paths = [e.path for e in events if isinstance(e, StepStarted)]
    assert paths == ["pipeline", "pipeline/0:w", "pipeline/0:w@retry1", "pipeline/0:w@retry2"]


async def test_nested_pipeline_hands_feedback_to_its_stages() -> None:
    log = Log()
    inner = Pipeline([log.agent("a"), log.agent("b")], name="inner")
    flow = Pipeline([inner], gates=[_failing_then_passing("Be brief.")], name="outer")
    await flow.run("x")
    assert log.prompts["a"][1].endswith("Feedback to address:\nBe brief.")
    assert log.prompts["b"][1].endswith("Feedback to address:\nBe brief.")


def test_bad_definitions_name_the_pipeline() -> None:
    with pytest.raises(WorkflowDefinitionError, match="'empty' has no stages"):
        Pipeline([], name="empty")
    with pytest.raises(WorkflowDefinitionError, match=r"'p': every stage must be a Step.*'oops'"):
        Pipeline([Agent("a"), "oops"], name="p")  # type: ignore[list-item]
    with pytest.raises(WorkflowDefinitionError, match="unknown stage 'nope'; stages: a"):
        Pipeline([Agent("a")], gates={"nope": lambda o: True})
    with pytest.raises(WorkflowDefinitionError, match="2 gates for 1 stages"):
        Pipeline([Agent("a")], gates=[None, None])
    with pytest.raises(WorkflowDefinitionError, match="a gate must be"):
        Pipeline([Agent("a")], gates=[42])
    with pytest.raises(WorkflowDefinitionError, match="max_gate_retries"):
        Pipeline([Agent("a")], max_gate_retries=-1)


async def test_judge_that_cannot_answer_a_verdict_fails_naming_it() -> None:
    def garbage(messages: list[Message], request: ModelRequest) -> str:
        return "I think it is fine"

    log = Log()
    flow = Pipeline([log.agent("w")], gates=[Agent("strict_judge", model=FunctionModel(garbage))])
    with pytest.raises(OutputValidationError) as info:
        await flow.run("x")
    assert info.value.agent == "strict_judge" and info.value.output_type == "Verdict"
