"""Short-term memory: token-aware trimming that keeps tool turns whole, and summarisation."""

from __future__ import annotations

import json

import pytest

from cadenza import Agent, FunctionModel, tool
from cadenza.errors import ConfigurationError
from cadenza.memory import AgentMemory, ShortTermMemory, estimate_tokens, summarise_with, trim_messages
from cadenza.memory.short_term import SUMMARY_PREFIX, message_tokens
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.messages import Message, ToolCall


def _conversation(turns: int) -> list[Message]:
    messages = [Message("system", "You are terse.")]
    for n in range(turns):
        messages.append(Message("user", f"question {n} " + "x" * 200))
        messages.append(Message("assistant", f"answer {n} " + "y" * 200))
    return messages


def _size(messages: list[Message]) -> int:
    return sum(message_tokens(m) for m in messages)


def test_trimming_keeps_the_system_message_and_the_newest_turns() -> None:
    messages = _conversation(10)
    kept, dropped = trim_messages(messages, 300)
    assert kept[0].role == "system"
    assert kept[-1].content.startswith("answer 9")
    assert _size(kept) <= 300
    assert kept[1:] == messages[len(messages) - len(kept) + 1 :], "a contiguous, newest tail"
    assert dropped == messages[1 : len(messages) - len(kept) + 1]


def test_a_tool_call_is_never_separated_from_its_results() -> None:
    messages = [
        Message("system", "s"),
        Message("user", "u " * 100),
        Message("assistant", "", tool_calls=[ToolCall("1", "lookup", "{}"), ToolCall("2", "lookup", "{}")]),
        Message("tool", "r1 " * 60, tool_call_id="1", name="lookup"),
        Message("tool", "r2 " * 60, tool_call_id="2", name="lookup"),
        Message("assistant", "done"),
    ]
    for budget in range(20, 400, 10):
        kept, _ = trim_messages(messages, budget)
        tool_results = [m for m in kept if m.role == "tool"]
        if tool_results:
            assert messages[2] in kept and len(tool_results) == 2, budget
        else:
            assert messages[2] not in kept, budget


def test_the_newest_turn_is_kept_even_when_it_alone_is_too_big() -> None:
    kept, dropped = trim_messages([Message("user", "z" * 10_000)], 100)
    assert len(kept) == 1 and dropped == []


def test_budget_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="at least 100"):
        ShortTermMemory(max_tokens=10)


async def test_summary_replaces_what_was_dropped() -> None:
    seen: list[list[Message]] = []

    async def summarise(messages: list[Message], ctx: object) -> str:
        seen.append(messages)
        return "We discussed questions 0 to 7."

    memory = ShortTermMemory(max_tokens=400, summarise=summarise)
    fitted = await memory.fit(_conversation(10))
    assert fitted[0].role == "system"
    assert fitted[1].content == f"{SUMMARY_PREFIX}\nWe discussed questions 0 to 7."
    assert fitted[-1].content.startswith("answer 9")
    assert _size(fitted) <= 400
    assert seen and seen[0][0].content.startswith("question 0")
    unchanged = _conversation(1)
    assert await memory.fit(unchanged) == unchanged, "nothing to do under the budget"


async def test_an_agent_in_a_long_tool_loop_sends_a_fitted_conversation() -> None:
    """Six tool rounds of bulky output: every request stays within the budget, and the
    summariser (an agent) runs as a child step whose cost is the run's."""

    @tool
    def lookup(page: int) -> str:
        """Look up one page of the archive."""
        return f"page {page}: " + "data " * 150

    sizes: list[int] = []

    def worker(messages: list[Message], request: ModelRequest) -> ModelResponse | str:
        sizes.append(sum(estimate_tokens(m.content) + 4 for m in messages))
        pages = sum(1 for m in messages if m.role == "tool") + (
            1 if any(m.content.startswith(SUMMARY_PREFIX) for m in messages) else 0
        )
        if len([m for m in messages if m.role == "assistant"]) >= 6 or pages > 20:
            return "finished"
        return ModelResponse(
            tool_calls=[ToolCall(f"c{len(sizes)}", "lookup", json.dumps({"page": len(sizes)}))]
        )

    summariser = Agent("summariser", model=FunctionModel(lambda m, r: "Pages so far held data."))
    memory = AgentMemory(short_term=ShortTermMemory(max_tokens=600, summarise=summarise_with(summariser)))
    agent = Agent("archivist", model=FunctionModel(worker), tools=[lookup], memory=memory, max_tool_rounds=6)
    result = await agent.run("Read the archive")
    assert max(sizes) <= 600
    assert len(result.messages) > 10, "the agent's own record keeps the whole conversation"
    summary_steps = [e.path for e in result.events if e.type == "step_started" and "summary@" in e.path]
    assert summary_steps and all(p.startswith("archivist/summary@") for p in summary_steps)
