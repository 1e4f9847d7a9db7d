"""Memory on agents: what reaches the model, remember/recall tools, working memory along a
pipeline, and the learning loop (fewer reflective rounds on a later run, across restarts)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from cadenza import Agent, FunctionModel, Pipeline, Reflective, Step, StepInput
from cadenza.engine.context import StepContext
from cadenza.memory import AgentMemory, LongTermMemory, WorkingMemory, agent_scope, user_scope
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.events import ToolCalled
from cadenza.types.messages import Message, ToolCall
from cadenza.types.results import StepResult


def _recording_model(seen: list[list[Message]]) -> FunctionModel:
    def reply(messages: list[Message], request: ModelRequest) -> str:
        seen.append(list(messages))
        return "ok"

    return FunctionModel(reply)


async def test_lessons_and_relevant_memories_reach_the_system_message(
    long_term: LongTermMemory, unique: str
) -> None:
    name = f"analyst-{unique}"
    await long_term.remember("Always give figures in euros.", scope=agent_scope(name), kind="lesson")
    await long_term.remember("Quote the source of every number.", scope=agent_scope(name), kind="lesson")
    await long_term.remember("The Lisbon office opened in March 2024.", scope=agent_scope(name))
    await long_term.remember("The user's company is Marés Lda.", scope=user_scope(unique))
    seen: list[list[Message]] = []
    memory = AgentMemory(long_term=long_term, user=unique, tools=False)
    agent = Agent(name, model=_recording_model(seen), instructions="You analyse offices.", memory=memory)
    await agent.run("When did the Lisbon office open for the company?")
    system = seen[0][0]
    assert system.role == "system"
    assert system.content.startswith("You analyse offices.\n\nRelevant memories:\n")
    assert "- The Lisbon office opened in March 2024." in system.content
    assert "- The user's company is Marés Lda." in system.content
    assert system.content.endswith(
        "Lessons:\n- Always give figures in euros.\n- Quote the source of every number."
    )


async def test_without_memory_nothing_changes() -> None:
    seen: list[list[Message]] = []
    agent = Agent("plain", model=_recording_model(seen), instructions="Be brief.")
    await agent.run("Hello")
    assert [m.content for m in seen[0]] == ["Be brief.", "Hello"]
    assert agent.tools == {}


def _scripted(*steps: tuple[str, dict[str, object]]) -> FunctionModel:
    """Call the given tools one per turn, then answer with the last tool result."""

    def reply(messages: list[Message], request: ModelRequest) -> ModelResponse | str:
        done = sum(1 for m in messages if m.role == "tool")
        if done < len(steps):
            name, arguments = steps[done]
            return ModelResponse(tool_calls=[ToolCall(f"c{done}", name, json.dumps(arguments))])
        return [m for m in messages if m.role == "tool"][-1].content

    return FunctionModel(reply)


async def test_remember_and_recall_tools_across_agents_of_one_user(
    long_term: LongTermMemory, unique: str
) -> None:
    memory = AgentMemory(long_term=long_term, user=unique, recall_limit=0)
    first = Agent(
        f"intake-{unique}",
        model=_scripted(("remember", {"text": "Invoices are due in 30 days."})),
        memory=memory,
    )
    assert set(first.tools) == {"remember", "recall"}
    result = await first.run("Note the payment terms")
    assert result.output == "Remembered."
    # remember writes to the agent's own scope; another agent of the same user cannot see it...
    other = Agent(f"billing-{unique}", model=_scripted(("recall", {"query": "invoices due"})), memory=memory)
    assert json.loads((await other.run("What are the payment terms?")).output) == []
    # ...but the same agent in a later run can
    again = Agent(
        f"intake-{unique}", model=_scripted(("recall", {"query": "when are invoices due"})), memory=memory
    )
    result = await again.run("What are the payment terms?")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert json.loads(call.output or "")[0]["text"] == "Invoices are due in 30 days."


class _Writes(Step):
    name = "collect"

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        memory = WorkingMemory.of(ctx)
        memory.note(self.name, "found 3 sources")
        memory["sources"] = ["a", "b", "c"]
        return ctx.result(self.name, "collected")


class _Reads(Step):
    name = "report"

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        memory = WorkingMemory.of(ctx)
        return ctx.result(self.name, f"{input.data}; {memory.render()}; {len(memory['sources'])} sources")


async def test_working_memory_is_shared_along_a_pipeline_as_the_run_state() -> None:
    state: dict[str, object] = {}
    result = await Pipeline([_Writes(), _Reads()]).run("Research", state=state)
    assert result.output == "collected; - collect: found 3 sources; 3 sources"
    assert state["sources"] == ["a", "b", "c"], "the working memory is the run's state"


# --- the learning loop ---

LEARNING_RUN = """
import asyncio, json
from cadenza import Agent, Reflective
from cadenza.memory import AgentMemory, LongTermMemory

async def main():
    memory = AgentMemory(long_term=LongTermMemory({url!r}))
    writer = Agent({name!r}, instructions="You write short reports.", memory=memory)
    flow = Reflective(writer, critic=Agent("critic"), max_rounds=5, threshold=0.8)
    result = await flow.run("Write a report on tidal power in Brittany")
    lessons = await memory.long_term.recent("agent:" + {name!r}, "lesson", 10)
    print(json.dumps({{"rounds": result.step.metadata["rounds"], "scores": result.step.metadata["scores"],
                      "lessons": [m.text for m in lessons]}}))
    await memory.long_term.close()

asyncio.run(main())
"""


def _learning_run(url: str, name: str) -> dict[str, object]:
    code = textwrap.dedent(LEARNING_RUN.format(url=url, name=name))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_lessons_from_the_critic_cut_the_rounds_of_a_later_run_after_a_restart(
    memory_url: str, unique: str
) -> None:
    """Offline model: a draft scores 0.6 + 0.15 per revision; lessons in the system message
    become revisions. Run 1 needs 3 rounds and keeps the two pieces of feedback that raised
    its score; run 2, in a new process, starts from them and passes in round 1."""
    name = f"writer-{unique}"
    first = _learning_run(memory_url, name)
    assert first["rounds"] == 3
    assert first["scores"] == [0.6, 0.75, 0.95]
    assert first["lessons"] == [
        "Point 2: add concrete figures, sources and a clear conclusion.",
        "Point 1: add concrete figures, sources and a clear conclusion.",
    ]
    second = _learning_run(memory_url, name)
    assert second["rounds"] == 1
    assert second["scores"] == [0.9]
    assert second["lessons"] == first["lessons"], "a pass teaches nothing new"


async def test_feedback_that_did_not_help_is_not_a_lesson(long_term: LongTermMemory, unique: str) -> None:
    from cadenza.patterns import Critique

    scores = iter([0.5, 0.4, 0.7, 0.9])

    def critic(messages: list[Message], request: ModelRequest) -> str:
        score = next(scores)
        return json.dumps({"score": score, "feedback": f"feedback after {score}"})

    name = f"writer-{unique}"
    writer = Agent(name, model=FunctionModel(lambda m, r: "draft"), memory=AgentMemory(long_term=long_term))
    flow = Reflective(
        writer, critic=Agent("judge", model=FunctionModel(critic), output_type=Critique), max_rounds=4
    )
    result = await flow.run("Write")
    assert result.step is not None and result.step.metadata["scores"] == [0.5, 0.4, 0.7, 0.9]
    lessons = [m.text for m in await long_term.recent(agent_scope(name), "lesson", 10)]
    # 0.4 -> 0.7 and 0.7 -> 0.9 improved; 0.5 -> 0.4 did not
    assert sorted(lessons) == ["feedback after 0.4", "feedback after 0.7"]
