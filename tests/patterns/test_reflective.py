"""``Reflective``: draft -> critique -> improve until the score passes; the best version wins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza import Agent, FunctionModel, Parallel, Pipeline, Reflective, Supervisor
from cadenza.errors import GateFailedError, WorkflowDefinitionError
from cadenza.models.base import ModelRequest
from cadenza.models.offline import LABEL, REVISION_MARK
from cadenza.types import GateChecked, Message, StepStarted

from ._models import Log, prompt_of


def critic_scoring(*scores: float, prompts: list[str] | None = None) -> Agent:
    queue = list(scores)

    def reply(messages: list[Message], request: ModelRequest) -> str:
        if prompts is not None:
            prompts.append(prompt_of(messages))
        score = queue.pop(0)
        return json.dumps({"score": score, "feedback": f"feedback after {score}"})

    return Agent("critic", model=FunctionModel(reply, name="critic"))


def numbered_writer(log: Log) -> Agent:
    return log.agent("writer", lambda p: f"draft {len(log.prompts['writer'])}")


async def test_offline_critic_passes_at_the_threshold_after_three_rounds() -> None:
    writer = Agent("writer", instructions="You write reports.")
    critic = Agent("critic", instructions="You critique reports.")
    flow = Reflective(writer, critic=critic, max_rounds=5, threshold=0.8)
    result = await flow.run("Report on EVs in Norway")
    assert result.step is not None
    assert result.step.metadata == {"rounds": 3, "scores": [0.6, 0.75, 0.9], "passed": True}
    assert result.confidence == 0.9
    text = str(result.output)
    assert text.startswith(LABEL)
    assert text.count(REVISION_MARK) == 2


async def test_offline_lower_threshold_stops_earlier() -> None:
    result = await Reflective(Agent("w"), critic=Agent("c"), threshold=0.7).run("Write")
    assert result.step is not None and result.step.metadata["scores"] == [0.6, 0.75]


async def test_critic_feedback_and_previous_draft_reach_the_next_round() -> None:
    log = Log()
    critic_prompts: list[str] = []
    flow = Reflective(numbered_writer(log), critic=critic_scoring(0.2, 0.9, prompts=critic_prompts))
    result = await flow.run("Write a haiku")
    assert result.output == "draft 2"
    assert log.prompts["writer"][1] == (
        "Write a haiku\n\nInput:\ndraft 1\n\nFeedback to address:\nfeedback after 0.2"
    )
    assert "Task:\nWrite a haiku" in critic_prompts[0]
    assert critic_prompts[0].endswith("Draft:\ndraft 1")
    checks = [(e.path, e.passed, e.attempt) for e in result.events if isinstance(e, GateChecked)]
    assert checks == [
        ("reflective/round#1/draft:writer", False, 1),
        ("reflective/round#2/draft:writer", True, 2),
    ]


async def test_best_version_is_kept_when_a_later_round_scores_lower() -> None:
    log = Log()
    flow = Reflective(numbered_writer(log), critic=critic_scoring(0.5, 0.7, 0.4), threshold=0.8)
    result = await flow.run("Write")
    assert result.output == "draft 2"
    assert result.confidence == 0.7
    assert result.step is not None
    assert result.step.metadata == {"rounds": 3, "scores": [0.5, 0.7, 0.4], "passed": False}


async def test_never_satisfied_returns_the_best_with_passed_false() -> None:
    log = Log()
    flow = Reflective(numbered_writer(log), critic=critic_scoring(0.3, 0.1), max_rounds=2)
    result = await flow.run("Write")
    assert result.output == "draft 1"
    assert result.step is not None and result.step.metadata["passed"] is False


async def test_never_satisfied_with_require_pass_is_a_gate_failure() -> None:
    log = Log()
    flow = Reflective(
        numbered_writer(log),
        critic=critic_scoring(0.3, 0.6, 0.5),
        max_rounds=3,
        require_pass=True,
        name="polish",
    )
    with pytest.raises(GateFailedError) as info:
        await flow.run("Write")
    err = info.value
    assert err.gate == "critic:critic"
    assert err.attempts == 3
    assert err.last_good_output == "draft 2", "the best version, not the last"
    assert err.feedback == "feedback after 0.5"
    assert err.path == "polish"


async def test_scores_are_clamped_to_zero_one() -> None:
    log = Log()
    result = await Reflective(numbered_writer(log), critic=critic_scoring(1.7)).run("Write")
    assert result.confidence == 1.0


async def test_self_critique_without_a_critic() -> None:
    def writer_model(messages: list[Message], request: ModelRequest) -> str:
        if request.output_schema is not None and request.output_schema.name == "Critique":
            return json.dumps({"score": 0.95, "feedback": "fine"})
        return "my draft"

    writer = Agent("writer", model=FunctionModel(writer_model))
    result = await Reflective(writer).run("Write")
    assert result.output == "my draft"
    started = [e.path for e in result.events if isinstance(e, StepStarted)]
    assert started == ["reflective", "reflective/round#1/draft:writer", "reflective/round#1/critic:writer"]


async def test_offline_self_critique_improves() -> None:
    result = await Reflective(Agent("writer", instructions="You write.")).run("Write about Spain")
    assert result.step is not None and result.step.metadata["scores"] == [0.6, 0.75, 0.9]


async def test_reflective_over_a_pipeline_improves_with_the_offline_model() -> None:
    flow = Reflective(
        Pipeline([Agent("drafter", instructions="You draft."), Agent("editor", instructions="You edit.")]),
        critic=Agent("critic", instructions="You critique."),
    )
    result = await flow.run("Write about Norway")
    assert result.step is not None
    assert result.step.metadata["scores"] == [0.6, 0.75, 0.9]


def test_bad_definitions_name_the_reflective() -> None:
    writer = Agent("writer")
    with pytest.raises(WorkflowDefinitionError, match="'r': max_rounds must be >= 1, got 0"):
        Reflective(writer, max_rounds=0, name="r")
    with pytest.raises(WorkflowDefinitionError, match=r"'r': threshold must be within 0\.\.1, got 1\.5"):
        Reflective(writer, threshold=1.5, name="r")
    with pytest.raises(WorkflowDefinitionError, match="threshold"):
        Reflective(writer, threshold=-0.1)
    with pytest.raises(WorkflowDefinitionError, match="self-critique needs an Agent"):
        Reflective(Pipeline([writer]))
    with pytest.raises(WorkflowDefinitionError, match="'r': the agent must be a Step"):
        Reflective("writer", critic=writer, name="r")  # type: ignore[arg-type]
    with pytest.raises(WorkflowDefinitionError, match="'r': the critic must be an Agent"):
        Reflective(writer, critic="critic", name="r")  # type: ignore[arg-type]


def _offline_team(kind: str) -> Any:
    a = Agent("a", instructions="Analyst A.", capabilities=["analysis"])
    b = Agent("b", instructions="Analyst B.", capabilities=["research"])
    if kind == "concat":
        return Parallel([a, b])
    if kind == "synthesiser":
        return Parallel([a, b], merge=Agent("synth", instructions="You combine."))
    return Supervisor(Agent("lead", instructions="You lead."), [a, b])


@pytest.mark.parametrize("kind", ["concat", "synthesiser", "supervisor"])
async def test_offline_reflective_over_any_pattern_improves(kind: str) -> None:
    flow = Reflective(_offline_team(kind), critic=Agent("critic", instructions="You critique."))
    result = await flow.run("Compare the EV markets of Norway and Spain")
    assert result.step is not None
    assert result.step.metadata["scores"] == [0.6, 0.75, 0.9]
