"""Human approval, conversations and forks of durable runs, in one process."""

from __future__ import annotations

import uuid

import pytest

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.durable import Approval, ApprovalRejected, ApprovalRequired, fork_run, resume_run, run_durable
from cadenza.errors import ConfigurationError
from cadenza.models.base import ModelRequest
from cadenza.store import RunStateError, Store
from cadenza.types.messages import Message


class Recorder:
    """A model function that records every prompt it is sent."""

    def __init__(self, tag: str = "") -> None:
        self.prompts: list[str] = []
        self.tag = tag

    def __call__(self, messages: list[Message], request: ModelRequest) -> str:
        self.prompts.append(messages[-1].content)
        return f"{self.tag}reply {len(self.prompts)}: {messages[0].content}"


def gated(model: Recorder) -> Pipeline:
    fn = FunctionModel(model, name="recorder")
    return Pipeline(
        [
            Agent("drafter", model=fn, instructions="Draft."),
            Approval("review", prompt="Publish this draft?"),
            Agent("publisher", model=fn, instructions="Publish."),
        ],
        name="announce",
    )


async def test_a_run_pauses_at_approval_and_resumes_when_approved(store: Store) -> None:
    model = Recorder()
    flow = gated(model)
    run_id = uuid.uuid4().hex
    with pytest.raises(ApprovalRequired, match="Publish this draft"):
        await run_durable(flow, "launch", store=store, run_id=run_id)
    record = await store.get_run(run_id)
    assert record.status == "waiting" and record.lease_owner is None
    assert record.waiting is not None and record.waiting["path"] == "announce/1:review"
    assert record.waiting["data"] == "reply 1: Draft."
    with pytest.raises(RunStateError, match="waiting"):
        await resume_run(run_id, store=store, flow=flow)

    await store.decide(run_id, approved=True, comment="ship it", by="ana")
    result = await resume_run(run_id, store=store, flow=gated(model))
    assert len(model.prompts) == 2, "the draft was replayed from the journal, not redrafted"
    assert result.output == "reply 2: Publish."
    assert result.step is not None
    record = await store.get_run(run_id)
    assert record.status == "succeeded" and record.waiting is None
    with pytest.raises(RunStateError, match="succeeded"):
        await store.decide(run_id, approved=True, comment="", by="ana")


async def test_a_rejected_run_ends_rejected_with_the_comment(store: Store) -> None:
    model = Recorder()
    run_id = uuid.uuid4().hex
    with pytest.raises(ApprovalRequired):
        await run_durable(gated(model), "launch", store=store, run_id=run_id)
    await store.decide(run_id, approved=False, comment="tone is off", by="ana")
    with pytest.raises(ApprovalRejected, match="rejected by ana: tone is off"):
        await resume_run(run_id, store=store, flow=gated(model))
    record = await store.get_run(run_id)
    assert record.status == "rejected" and "tone is off" in (record.error or "")
    assert len(model.prompts) == 1


async def test_approval_needs_a_durable_run() -> None:
    with pytest.raises(ConfigurationError, match="needs a durable run"):
        await gated(Recorder()).run("launch")


async def test_a_conversation_carries_messages_into_the_next_run(store: Store) -> None:
    model = Recorder()
    agent = Agent("assistant", model=FunctionModel(model), instructions="Help.")
    first = await run_durable(agent, "My name is Ada.", store=store, conversation="thread-1")
    second = await run_durable(agent, "What is my name?", store=store, conversation="thread-1")
    assert "My name is Ada." in model.prompts[1] and first.output in model.prompts[1]
    conversation = await store.load_conversation("thread-1")
    assert conversation is not None
    assert [m["role"] for m in conversation.messages] == ["user", "assistant", "user", "assistant"]
    assert [h["run_id"] for h in conversation.workflow_history] == [first.run_id, second.run_id]
    other = await run_durable(agent, "Hello", store=store, conversation="thread-2")
    assert "Ada" not in model.prompts[2]
    assert (await store.get_run(other.run_id)).conversation_id != (
        await store.get_run(first.run_id)
    ).conversation_id


async def test_a_conversation_keeps_the_working_memory(store: Store) -> None:
    from cadenza import Step, StepInput
    from cadenza.engine.context import StepContext
    from cadenza.types.results import StepResult

    class Counter(Step):
        name = "counter"

        async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
            ctx.run.state["turns"] = ctx.run.state.get("turns", 0) + 1
            return ctx.result(self.name, ctx.run.state["turns"])

    outputs = [(await run_durable(Counter(), "hi", store=store, conversation="c")).output for _ in range(3)]
    assert outputs == [1, 2, 3]
    conversation = await store.load_conversation("c")
    assert conversation is not None and conversation.context == {"turns": 3}


async def test_flow_run_with_a_store_is_durable(store: Store) -> None:
    agent = Agent("a", model=FunctionModel(Recorder()))
    result = await agent.run("x", store=store)
    assert (await store.get_run(result.run_id)).status == "succeeded"


async def test_fork_reuses_the_journal_before_the_chosen_step(store: Store) -> None:
    model = Recorder()
    fn = FunctionModel(model, name="recorder")
    flow = Pipeline([Agent(n, model=fn, instructions=n) for n in ("a", "b", "c")], name="three")
    original = await run_durable(flow, "first task", store=store)
    assert len(model.prompts) == 3

    forked = await fork_run(
        original.run_id, from_path="three/1:b", store=store, flow=flow, task="second task"
    )
    assert len(model.prompts) == 5, "stage a was replayed; b and c ran again"
    assert model.prompts[3].startswith("second task") and "reply 1: a" in model.prompts[3]
    record = await store.get_run(forked.run_id)
    assert record.parent_run_id == original.run_id and record.forked_at == "three/1:b"
    assert record.task["description"] == "second task"

    from cadenza.durable import DurableRunError

    with pytest.raises(DurableRunError, match="no journaled call"):
        await fork_run(original.run_id, from_path="three/9:z", store=store, flow=flow)


WORKFLOW_WITH_APPROVAL = """
version: 1
name: announce
defaults:
  model: offline
agents:
  drafter:
    instructions: Draft the announcement.
  publisher:
    instructions: Publish the approved draft.
workflow:
  pipeline:
    stages:
      - drafter
      - approval: {name: legal, prompt: "Legal sign-off?"}
      - publisher
"""


async def test_an_approval_step_in_a_workflow_file(store: Store) -> None:
    from cadenza.workflows import load_workflow_text

    workflow = load_workflow_text(WORKFLOW_WITH_APPROVAL, "announce.yaml")
    run_id = uuid.uuid4().hex
    with pytest.raises(ApprovalRequired, match="Legal sign-off"):
        await run_durable(workflow.step, "New office", store=store, run_id=run_id)
    record = await store.get_run(run_id)
    assert record.status == "waiting" and record.waiting is not None
    assert record.waiting["path"] == "pipeline/1:legal"
    await store.decide(run_id, approved=True, comment="", by="legal")
    result = await resume_run(run_id, store=store, flow=load_workflow_text(WORKFLOW_WITH_APPROVAL).step)
    assert "Publish the approved draft" in result.output
