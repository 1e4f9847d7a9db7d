"""``Supervisor``: plans, routing by name and by capability, dependencies, turns, synthesis."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cadenza import Agent, FunctionModel, Pipeline, Supervisor
from cadenza.errors import ModelError, OutputValidationError, RoutingError, WorkflowDefinitionError
from cadenza.models.base import ModelRequest
from cadenza.models.offline import LABEL
from cadenza.types import LLMCall, Message, StepStarted

from ._models import Log, prompt_of


def sub(
    id: str, specialist: str | None, description: str = "", depends_on: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": id,
        "description": description or f"do {id}",
        "specialist": specialist,
        "depends_on": depends_on or [],
    }


def boss(plans: list[dict[str, Any]], prompts: list[str], synthesis: str = "final answer") -> Agent:
    """A supervisor whose model returns ``plans`` in turn (then done) and ``synthesis`` at the end."""

    def reply(messages: list[Message], request: ModelRequest) -> str:
        prompts.append(prompt_of(messages))
        if request.output_schema is not None and request.output_schema.name == "Plan":
            return json.dumps(plans.pop(0) if plans else {"subtasks": [], "done": True})
        return synthesis

    return Agent("boss", model=FunctionModel(reply, name="boss"))


def plan(*subtasks: dict[str, Any], done: bool = False) -> dict[str, Any]:
    return {"subtasks": list(subtasks), "done": done, "rationale": "scripted"}


async def test_offline_plan_routes_one_subtask_per_specialist_and_synthesises() -> None:
    specialists = [
        Agent("researcher", instructions="You research facts.", capabilities=["research"]),
        Agent("analyst", instructions="You analyse numbers.", capabilities=["analysis"]),
    ]
    flow = Supervisor(Agent("lead", instructions="You coordinate."), specialists)
    result = await flow.run("Compare the EV markets of Norway and Spain")
    started = [e.path for e in result.events if isinstance(e, StepStarted)]
    assert "supervisor/1.t1:researcher" in started
    assert "supervisor/1.t2:analyst" in started
    assert started[-1] == "supervisor/synthesize"
    assert str(result.output).startswith(LABEL)
    assert result.step is not None and result.step.metadata["subtasks"] == 2


async def test_scripted_plan_runs_dependents_after_their_inputs_and_independents_concurrently() -> None:
    log = Log()
    prompts: list[str] = []
    specialists = [
        log.agent("slow", "SLOW", delay=0.3),
        log.agent("fast", "FAST", delay=0.02),
        log.agent("after_fast", "AFTER", delay=0.02),
        log.agent("joiner", "JOINED"),
    ]
    scripted = plan(
        sub("t1", "slow"),
        sub("t2", "fast"),
        sub("t3", "after_fast", depends_on=["t2"]),
        sub("t4", "joiner", depends_on=["t1", "t3"]),
    )
    result = await Supervisor(boss([scripted], prompts), specialists).run("Task")
    assert result.output == "final answer"
    # Independent subtasks start together.
    assert log.started["fast"][0] < log.ended["slow"][0]
    # A dependent starts once its own inputs are ready, not when the whole wave is.
    assert log.started["after_fast"][0] >= log.ended["fast"][0]
    assert log.started["after_fast"][0] < log.ended["slow"][0], "t3 waited for t1, which it does not need"
    # A subtask with two inputs waits for both and receives both.
    assert log.started["joiner"][0] >= max(log.ended["slow"][0], log.ended["after_fast"][0])
    joiner_input = json.loads(log.prompts["joiner"][0].split("Input:\n", 1)[1])
    assert joiner_input == {"t1": "SLOW", "t3": "AFTER"}
    assert log.prompts["after_fast"][0] == 'do t3\n\nInput:\n{\n  "t2": "FAST"\n}'
    synthesis = prompts[-1]
    for text in ("SLOW", "FAST", "AFTER", "JOINED"):
        assert text in synthesis


async def test_concurrent_false_runs_subtasks_one_at_a_time() -> None:
    log = Log()
    specialists = [log.agent("x", delay=0.02), log.agent("y", delay=0.02)]
    scripted = plan(sub("t1", "x"), sub("t2", "y"))
    await Supervisor(boss([scripted], []), specialists, concurrent=False).run("Task")
    assert log.max_in_flight == 1


async def test_dependency_cycle_does_not_hang() -> None:
    log = Log()
    specialists = [log.agent("x"), log.agent("y")]
    scripted = plan(sub("t1", "x", depends_on=["t2"]), sub("t2", "y", depends_on=["t1"]))
    await Supervisor(boss([scripted], []), specialists).run("Task")
    assert set(log.prompts) == {"x", "y"}


async def test_multi_turn_loop_is_bounded_by_max_turns_and_keeps_every_result() -> None:
    log = Log()
    prompts: list[str] = []
    counter = iter(range(1, 100))
    worker = log.agent("worker", lambda p: f"result {next(counter)}")
    always_more = [plan(sub("t1", "worker")) for _ in range(10)]
    result = await Supervisor(boss(always_more, prompts), [worker], max_turns=3).run("Task")
    plan_prompts = prompts[:-1]
    assert len(plan_prompts) == 3
    assert len(log.prompts["worker"]) == 3
    assert "Results so far:" not in plan_prompts[0]
    assert "result 1" in plan_prompts[1]
    synthesis = prompts[-1]
    for n in (1, 2, 3):
        assert f"result {n}" in synthesis, f"turn {n}'s result was lost: {synthesis}"
    assert result.step is not None and result.step.metadata["turns"] == 3
    started = [e.path for e in result.events if isinstance(e, StepStarted)]
    worker_paths = [p for p in started if p.endswith(":worker")]
    assert len(worker_paths) == len(set(worker_paths)) == 3


async def test_repeated_ids_in_one_plan_run_both_under_distinct_paths() -> None:
    log = Log()
    specialists = [log.agent("x", "X"), log.agent("y", "Y")]
    scripted = plan(sub("t1", "x"), sub("t1", "y"))
    prompts: list[str] = []
    result = await Supervisor(boss([scripted], prompts), specialists).run("Task")
    started = [e.path for e in result.events if isinstance(e, StepStarted) and e.path.count("/") == 1]
    specialist_paths = [p for p in started if p.endswith((":x", ":y"))]
    assert len(specialist_paths) == len(set(specialist_paths)) == 2
    assert "X" in prompts[-1] and "Y" in prompts[-1]


async def test_plan_with_done_true_goes_straight_to_synthesis() -> None:
    log = Log()
    prompts: list[str] = []
    await Supervisor(boss([plan(sub("t1", "x"), done=True)], prompts), [log.agent("x")]).run("Task")
    assert "x" not in log.prompts
    assert len(prompts) == 2


async def test_unknown_specialist_falls_back_to_capability_match() -> None:
    log = Log()
    specialists = [
        log.agent("writer", capabilities=["writing", "editing"]),
        log.agent("numbers", capabilities=["statistics", "analysis"]),
    ]
    scripted = plan(sub("t1", "data-analyst", "Run the statistics on sales"))
    result = await Supervisor(boss([scripted], []), specialists).run("Task")
    assert set(log.prompts) == {"numbers"}
    assert any(isinstance(e, StepStarted) and e.path == "supervisor/1.t1:numbers" for e in result.events)


async def test_unknown_specialist_with_no_fit_is_a_routing_error() -> None:
    log = Log()
    specialists = [log.agent("writer", capabilities=["writing"]), log.agent("coder", capabilities=["python"])]
    scripted = plan(sub("t0", "writer"), sub("t1", "astrologer", "Read the stars"))
    with pytest.raises(RoutingError) as info:
        await Supervisor(boss([scripted], []), specialists).run("Task")
    err = info.value
    assert err.specialist == "astrologer"
    assert err.known == ["writer", "coder"]
    assert "'astrologer'" in str(err) and "writer, coder" in str(err)
    assert err.path == "supervisor"
    assert not log.prompts, "nothing ran: the whole plan is routed before any subtask starts"


async def test_invalid_plan_twice_is_an_output_validation_error() -> None:
    def reply(messages: list[Message], request: ModelRequest) -> str:
        return '{"subtasks": "not a list"}'

    flow = Supervisor(Agent("boss", model=FunctionModel(reply)), [Agent("x")])
    with pytest.raises(OutputValidationError) as info:
        await flow.run("Task")
    assert info.value.agent == "boss" and info.value.output_type == "Plan"


async def test_feedback_reaches_the_supervisor() -> None:
    log = Log()
    prompts: list[str] = []
    attempts: list[Any] = []

    def gate(output: Any) -> str | None:
        attempts.append(output)
        return "Cover Spain too." if len(attempts) == 1 else None

    flow = Pipeline([Supervisor(boss([plan(sub("t1", "x"))], prompts), [log.agent("x")])], gates=[gate])
    await flow.run("Task")
    assert any("Feedback to address:\nCover Spain too." in p for p in prompts[2:])


async def test_supervisor_usage_includes_every_call() -> None:
    log = Log()
    flow = Supervisor(boss([plan(sub("t1", "x"), sub("t2", "y"))], []), [log.agent("x"), log.agent("y")])
    result = await flow.run("Task")
    calls = [e for e in result.events if isinstance(e, LLMCall)]
    assert len(calls) == 5  # plan, x, y, plan (done), synthesis
    assert result.usage.requests == 5


def test_bad_definitions_name_the_supervisor() -> None:
    a = Agent("a")
    with pytest.raises(WorkflowDefinitionError, match="'team' has no specialists"):
        Supervisor(a, [], name="team")
    with pytest.raises(WorkflowDefinitionError, match="must be an Agent"):
        Supervisor("boss", [a])  # type: ignore[arg-type]
    with pytest.raises(WorkflowDefinitionError, match=r"specialist names repeat: \['a'\]"):
        Supervisor(a, [a, Agent("a")])
    with pytest.raises(WorkflowDefinitionError, match="max_turns"):
        Supervisor(a, [a], max_turns=0)
    with pytest.raises(WorkflowDefinitionError, match=r"'team': every specialist must be a Step.*'oops'"):
        Supervisor(a, [a, "oops"], name="team")  # type: ignore[list-item]


async def test_a_failing_subtask_cancels_the_others_and_fails_the_supervisor() -> None:
    log = Log()

    def broken(messages: list[Message], request: ModelRequest) -> str:
        raise RuntimeError("specialist down")

    specialists = [log.agent("slow", delay=1.0), Agent("bad", model=FunctionModel(broken, name="bad"))]
    flow = Supervisor(boss([plan(sub("t1", "slow"), sub("t2", "bad"))], []), specialists)
    with pytest.raises(ModelError, match="specialist down"):
        await flow.run("Task")
    assert "slow" in log.started and "slow" not in log.ended


@pytest.mark.parametrize(
    ("capability", "description"),
    [
        ("sql", "Write the SQL query for monthly sales"),
        ("analysis", "Analyse the quarterly figures"),
        ("writing", "Write a short summary"),
        ("databases", "Tune the database indexes"),
    ],
)
async def test_capability_match_handles_short_words_and_word_forms(capability: str, description: str) -> None:
    log = Log()
    specialists = [log.agent("other", capabilities=["legal"]), log.agent("fit", capabilities=[capability])]
    await Supervisor(boss([plan(sub("t1", "someone", description))], []), specialists).run("Task")
    assert set(log.prompts) == {"fit"}


async def test_capability_match_does_not_confuse_different_words() -> None:
    log = Log()
    specialists = [log.agent("cash", capabilities=["finance"]), log.agent("git", capabilities=["repository"])]
    flow = Supervisor(boss([plan(sub("t1", "editor", "Final report polish"))], []), specialists)
    with pytest.raises(RoutingError):
        await flow.run("Task")
