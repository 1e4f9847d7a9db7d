"""``Parallel``: merges, concurrency limit, branch timeout, failure policies, no barrier."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cadenza import Agent, FunctionModel, Parallel, Pipeline
from cadenza.errors import ModelError, ParallelError, StepFailedError, WorkflowDefinitionError
from cadenza.models.base import ModelRequest
from cadenza.types import Message, StepFailed, StepFinished, StepStarted

from ._models import Log, prompt_of


def three(log: Log) -> list[Agent]:
    return [log.agent("a", "yes"), log.agent("b", "no"), log.agent("c", "Yes ")]


async def test_concat_merge_has_one_section_per_branch_in_branch_order() -> None:
    log = Log()
    flow = Parallel([log.agent("a", "A", delay=0.05), log.agent("b", "B")])
    result = await flow.run("q")
    assert result.output == "## a\nA\n\n## b\nB"
    assert log.prompts["a"] == log.prompts["b"] == ["q"], "every branch gets the same input"


async def test_list_and_dict_merges() -> None:
    log = Log()
    assert (await Parallel(three(log), merge="list").run("q")).output == ["yes", "no", "Yes "]
    assert (await Parallel(three(log), merge="dict").run("q")).output == {"a": "yes", "b": "no", "c": "Yes "}


async def test_dict_merge_keeps_every_branch_when_names_repeat() -> None:
    log = Log()
    same = log.agent("same", lambda p: f"answer {len(log.prompts['same'])}")
    result = await Parallel([same, same, log.agent("other", "o")], merge="dict").run("q")
    assert len(result.output) == 3, f"a branch was lost: {result.output}"
    assert sorted(result.output.values()) == ["answer 1", "answer 2", "o"]


async def test_vote_merge_picks_the_majority_and_ties_go_to_the_earliest() -> None:
    log = Log()
    assert (await Parallel(three(log), merge="vote").run("q")).output == "yes"
    tie = [log.agent("x", "left"), log.agent("y", "right")]
    assert (await Parallel(tie, merge="vote").run("q")).output == "left"


async def test_function_merge_sync_and_async() -> None:
    log = Log()
    result = await Parallel(three(log), merge=lambda outs: "|".join(outs)).run("q")
    assert result.output == "yes|no|Yes "

    async def count(outs: list[Any]) -> int:
        await asyncio.sleep(0)
        return len(outs)

    assert (await Parallel(three(log), merge=count).run("q")).output == 3


async def test_synthesiser_agent_merge_receives_the_outputs_by_branch_name() -> None:
    log = Log()
    synth = log.agent("synth", lambda p: "combined")
    result = await Parallel([log.agent("a", "A"), log.agent("b", "B")], merge=synth).run("Compare")
    assert result.output == "combined"
    prompt = log.prompts["synth"][0]
    assert prompt.startswith("Compare\n\nInput:\n")
    assert json.loads(prompt.split("Input:\n", 1)[1]) == {"a": "A", "b": "B"}
    finished = [e.path for e in result.events if isinstance(e, StepFinished)]
    assert "parallel/merge:synth" in finished


async def test_max_concurrency_is_honoured() -> None:
    log = Log()
    branches = [log.agent(f"b{i}", delay=0.03) for i in range(6)]
    await Parallel(branches, max_concurrency=2).run("q")
    assert log.max_in_flight == 2
    log2 = Log()
    await Parallel([log2.agent(f"b{i}", delay=0.03) for i in range(6)]).run("q")
    assert log2.max_in_flight == 6


async def test_branch_timeout_fails_fast() -> None:
    log = Log()
    flow = Parallel([log.agent("quick"), log.agent("stuck", delay=5)], branch_timeout=0.05)
    with pytest.raises(StepFailedError) as info:
        await flow.run("q")
    assert info.value.path == "parallel/1:stuck"
    assert "timed out after 0.05 s" in str(info.value)
    assert "stuck" not in log.ended


async def test_branch_timeout_under_best_effort_drops_the_slow_branch() -> None:
    log = Log()
    flow = Parallel(
        [log.agent("quick", "Q"), log.agent("stuck", delay=5)],
        branch_timeout=0.05,
        on_failure="best_effort",
        merge="list",
    )
    result = await flow.run("q")
    assert result.output == ["Q"]
    assert result.step is not None and result.step.metadata == {"branches": 2, "failed": 1}


def failing(name: str, after: float = 0.0) -> Agent:
    async def broken(messages: list[Message], request: ModelRequest) -> str:
        await asyncio.sleep(after)
        raise RuntimeError(f"{name} broke")

    return Agent(name, model=FunctionModel(broken, name=name))


async def test_fail_fast_cancels_siblings() -> None:
    log = Log()
    flow = Parallel([log.agent("slow", delay=1.0), failing("bad", after=0.02)])
    with pytest.raises(ModelError, match="bad broke"):
        await flow.run("q")
    assert "slow" in log.started
    assert "slow" not in log.ended, "the slow sibling never completed its model call"


async def test_fail_fast_events_show_the_cancelled_sibling() -> None:
    log = Log()
    events: list[Any] = []
    flow = Parallel([log.agent("slow", delay=1.0), failing("bad", after=0.02)])
    with pytest.raises(ModelError):
        await flow.run("q", sinks=[events.append])
    failed = {e.path: e.error_type for e in events if isinstance(e, StepFailed)}
    assert failed["parallel/1:bad"] == "ModelError"
    assert failed["parallel/0:slow"] == "CancelledError"


async def test_best_effort_with_quorum_met() -> None:
    log = Log()
    flow = Parallel(
        [log.agent("a", "A"), failing("bad"), log.agent("c", "C")],
        on_failure="best_effort",
        quorum=2,
        merge="dict",
    )
    result = await flow.run("q")
    assert result.output == {"a": "A", "c": "C"}
    assert result.step is not None and result.step.metadata["failed"] == 1


async def test_best_effort_with_quorum_not_met_lists_branch_errors() -> None:
    log = Log()
    flow = Parallel(
        [log.agent("a", "A"), failing("bad1"), failing("bad2")],
        on_failure="best_effort",
        quorum=2,
    )
    with pytest.raises(ParallelError) as info:
        await flow.run("q")
    err = info.value
    assert sorted(err.errors) == [1, 2]
    assert all(isinstance(e, ModelError) for e in err.errors.values())
    message = str(err)
    assert "1 of 3 branches succeeded, quorum is 2" in message
    assert "branch 1 (bad1)" in message and "bad1 broke" in message
    assert "branch 2 (bad2)" in message and "bad2 broke" in message
    assert err.path == "parallel"


async def test_best_effort_default_quorum_is_one() -> None:
    flow = Parallel([failing("x"), failing("y")], on_failure="best_effort")
    with pytest.raises(ParallelError, match="0 of 2 branches succeeded, quorum is 1"):
        await flow.run("q")


async def test_no_barrier_between_independent_branches() -> None:
    log = Log()
    flow = Parallel(
        [
            Pipeline([log.agent("a", delay=0.01), log.agent("b")], name="left"),
            Pipeline([log.agent("c", delay=0.3), log.agent("d")], name="right"),
        ]
    )
    result = await flow.run("q")
    assert log.started["b"][0] < log.ended["c"][0], "b started the moment a ended, not after c"
    assert log.ended["b"][0] < log.ended["c"][0]
    started = [e.path for e in result.events if isinstance(e, StepStarted)]
    assert started.index("parallel/0:left/1:b") < started.index("parallel/1:right/1:d")


async def test_branch_paths_use_the_branch_index() -> None:
    log = Log()
    result = await Parallel([log.agent("x", delay=0.05), log.agent("x")]).run("q")
    finished = [e.path for e in result.events if isinstance(e, StepFinished)]
    assert finished == ["parallel/1:x", "parallel/0:x", "parallel"]


async def test_outer_cancellation_cancels_every_branch() -> None:
    log = Log()
    flow = Parallel([log.agent("a", delay=1.0), log.agent("b", delay=1.0)], on_failure="best_effort")
    task = asyncio.create_task(flow.run("q"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert log.in_flight == 0 and not log.ended


def test_bad_definitions_name_the_parallel() -> None:
    a = Agent("a")
    with pytest.raises(WorkflowDefinitionError, match="'fan' has no branches"):
        Parallel([], name="fan")
    with pytest.raises(WorkflowDefinitionError, match="every branch must be a Step"):
        Parallel([a, print], name="fan")  # type: ignore[list-item]
    with pytest.raises(WorkflowDefinitionError, match="unknown merge 'sum'"):
        Parallel([a], merge="sum")
    with pytest.raises(WorkflowDefinitionError, match="on_failure"):
        Parallel([a], on_failure="ignore")  # type: ignore[arg-type]
    with pytest.raises(WorkflowDefinitionError, match="'fan': quorum must be between 1 and 2, got 3"):
        Parallel([a, a], quorum=3, name="fan")
    with pytest.raises(WorkflowDefinitionError, match="quorum must be between 1 and 1, got 0"):
        Parallel([a], quorum=0)
    with pytest.raises(WorkflowDefinitionError, match="max_concurrency"):
        Parallel([a], max_concurrency=0)
    with pytest.raises(WorkflowDefinitionError, match="branch_timeout"):
        Parallel([a], branch_timeout=0)


async def test_prompt_helper_sees_only_the_task() -> None:
    seen: list[str] = []

    def model(messages: list[Message], request: ModelRequest) -> str:
        seen.append(prompt_of(messages))
        return "x"

    await Parallel([Agent("p", model=FunctionModel(model))]).run("the task")
    assert seen == ["the task"]


async def test_several_failing_branches_leave_no_unretrieved_task_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    flow = Parallel([failing("x"), failing("y"), failing("z")])
    with pytest.raises(ModelError):
        await flow.run("q")
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
