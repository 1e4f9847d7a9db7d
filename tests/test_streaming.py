"""``flow.stream(task)``: events as they happen, text deltas included; early exit cancels the run."""

from __future__ import annotations

import asyncio

import pytest

from cadenza import Agent, FunctionModel, Parallel, Pipeline
from cadenza.errors import ModelError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types import (
    Event,
    LLMCall,
    Message,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    Usage,
)


async def test_offline_stream_yields_text_deltas_in_order_and_ends_with_run_finished() -> None:
    agent = Agent("writer", instructions="You write.")
    events: list[Event] = [e async for e in agent.stream("Describe the EV market in Norway")]
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[-1], RunFinished)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    assert all(d.path == "writer/llm#1" for d in deltas)
    assert "".join(d.text for d in deltas) == events[-1].output
    # Deltas arrive before the call's LLMCall event and between its step's start and finish.
    kinds = [type(e) for e in events]
    first_delta = kinds.index(TextDelta)
    assert kinds.index(StepStarted) < first_delta < kinds.index(LLMCall) < kinds.index(StepFinished)


async def test_streamed_run_gives_the_same_answer_as_a_plain_run() -> None:
    flow = Pipeline([Agent("a", instructions="First."), Agent("b", instructions="Second.")])
    plain = await flow.run("Compare EV markets")
    streamed = [e async for e in flow.stream("Compare EV markets")]
    assert isinstance(streamed[-1], RunFinished)
    assert streamed[-1].output == plain.output
    assert not any(isinstance(e, TextDelta) for e in plain.events), "no deltas unless streaming"


async def test_stream_interleaves_branches_as_they_happen() -> None:
    gate = asyncio.Event()

    async def first(messages: list[Message], request: ModelRequest) -> str:
        await gate.wait()
        return "first"

    async def second(messages: list[Message], request: ModelRequest) -> str:
        return "second"

    flow = Parallel(
        [Agent("a", model=FunctionModel(first)), Agent("b", model=FunctionModel(second))], merge="list"
    )
    seen: list[str] = []
    async for event in flow.stream("go"):
        if isinstance(event, StepFinished):
            seen.append(event.path)
            if event.path == "parallel/1:b":
                gate.set()  # "a" can only finish because we saw "b" finish while the run was going
        if isinstance(event, RunFinished):
            assert event.output == ["first", "second"]
    assert seen == ["parallel/1:b", "parallel/0:a", "parallel"]


async def test_breaking_out_early_cancels_the_run() -> None:
    started = asyncio.Event()
    outcome: list[str] = []

    async def slow(messages: list[Message], request: ModelRequest) -> str:
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("completed")
        return "late"

    flow = Pipeline([Agent("quick", instructions="Quick."), Agent("slow", model=FunctionModel(slow))])
    stream = flow.stream("go")
    async for event in stream:
        if isinstance(event, StepStarted) and event.path == "pipeline/1:slow":
            break
    await stream.aclose()  # closing the stream waits for the cancelled run to unwind
    assert started.is_set()
    assert outcome == ["cancelled"], "the slow model call never completed"


async def test_breaking_out_without_aclose_still_cancels() -> None:
    outcome: list[str] = []
    started = asyncio.Event()

    async def slow(messages: list[Message], request: ModelRequest) -> str:
        started.set()
        try:
            await asyncio.sleep(2)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("completed")
        return "late"

    agent = Agent("slow", model=FunctionModel(slow))
    async for event in agent.stream("go"):
        if isinstance(event, StepStarted):
            break
    # The abandoned generator is finalised by the event loop, which cancels the run.
    for _ in range(20):
        await asyncio.sleep(0.01)
        if outcome:
            break
    assert started.is_set()
    assert outcome == ["cancelled"]


async def test_failing_run_yields_run_failed_then_raises() -> None:
    def broken(messages: list[Message], request: ModelRequest) -> ModelResponse:
        raise RuntimeError("model exploded")

    def fine(messages: list[Message], request: ModelRequest) -> ModelResponse:
        return ModelResponse(text="ok", usage=Usage(5, 1))

    flow = Pipeline([Agent("ok", model=FunctionModel(fine)), Agent("bad", model=FunctionModel(broken))])
    events: list[Event] = []
    with pytest.raises(ModelError, match="model exploded") as info:
        async for event in flow.stream("go"):
            events.append(event)
    assert isinstance(events[-1], RunFailed)
    assert events[-1].status == "failed"
    assert events[-1].error_type == "ModelError"
    assert events[-1].usage == Usage(5, 1, 0, 0, 1), "the failed run still reports what it used"
    assert getattr(info.value, "step_path", None) == "pipeline/1:bad"
