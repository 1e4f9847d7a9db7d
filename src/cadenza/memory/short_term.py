"""Short-term memory: the conversation, trimmed to fit the model's context.

Trimming is token-aware and structure-aware: system messages always stay; the newest turns are
kept whole, oldest dropped first; an assistant turn that called tools is never separated from
the tool results that answer it (providers reject an orphaned tool result). When a summariser
is given, what was dropped is replaced by a summary of it instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cadenza.errors import ConfigurationError
from cadenza.types.messages import Message

if TYPE_CHECKING:
    from cadenza.engine.context import StepContext

TokenCounter = Callable[[str], int]
Summariser = Callable[[list[Message], "StepContext | None"], Awaitable[str]]
SUMMARY_PREFIX = "Summary of the earlier conversation:"


def estimate_tokens(text: str) -> int:
    """Four characters a token: the rule of thumb providers quote for English text."""
    return len(text) // 4 + 1


def message_tokens(message: Message, count: TokenCounter = estimate_tokens) -> int:
    """A message's size: its text, its tool calls' arguments, and a small per-message overhead."""
    size = count(message.content) + 4
    for call in message.tool_calls:
        size += count(call.name) + count(call.arguments)
    return size


def _units(messages: Sequence[Message]) -> list[list[Message]]:
    """Group messages into units that must be kept or dropped together."""
    units: list[list[Message]] = []
    for message in messages:
        if message.role == "tool" and units and (units[-1][0].tool_calls or units[-1][-1].role == "tool"):
            units[-1].append(message)
        else:
            units.append([message])
    return units


def trim_messages(
    messages: Sequence[Message], max_tokens: int, *, count: TokenCounter = estimate_tokens
) -> tuple[list[Message], list[Message]]:
    """The messages that fit in ``max_tokens`` (system messages first, then the newest turns)
    and the ones dropped, both in conversation order. The newest turn is always kept."""
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    budget = max_tokens - sum(message_tokens(m, count) for m in system)
    units = _units(rest)
    kept: list[list[Message]] = []
    for unit in reversed(units):
        size = sum(message_tokens(m, count) for m in unit)
        if kept and size > budget:
            break
        kept.append(unit)
        budget -= size
    kept.reverse()
    kept_messages = [m for unit in kept for m in unit]
    dropped = [m for unit in units[: len(units) - len(kept)] for m in unit]
    return system + kept_messages, dropped


@dataclass
class ShortTermMemory:
    """How to fit a conversation to a model: a token budget and, optionally, a summariser.

    ``max_tokens`` is the share of the model's context the conversation may use (leave room for
    the answer). ``summarise`` is an async function from dropped messages to a summary, e.g.
    ``summarise_with(agent)`` from ``cadenza.memory``.
    """

    max_tokens: int = 8000
    summarise: Summariser | None = None
    count: TokenCounter = estimate_tokens

    def __post_init__(self) -> None:
        if self.max_tokens < 100:
            raise ConfigurationError(
                f"short-term memory: max_tokens must be at least 100, got {self.max_tokens}"
            )

    async def fit(self, messages: Sequence[Message], ctx: StepContext | None = None) -> list[Message]:
        """``messages`` trimmed to the budget, with a summary of what was dropped if configured.

        Inside a run (``ctx``), the summariser's model calls are the step's children, so their
        cost is the run's.
        """
        total = sum(message_tokens(m, self.count) for m in messages)
        if total <= self.max_tokens:
            return list(messages)
        kept, dropped = trim_messages(messages, self.max_tokens, count=self.count)
        if not dropped or self.summarise is None:
            return kept
        earlier = [m for m in dropped if not m.content.startswith(SUMMARY_PREFIX)]
        previous = [m.content for m in dropped if m.content.startswith(SUMMARY_PREFIX)]
        summary = await self.summarise([*(Message("user", p) for p in previous), *earlier], ctx)
        note = Message("user", f"{SUMMARY_PREFIX}\n{summary.strip()}")
        system = [m for m in kept if m.role == "system"]
        others = [m for m in kept if m.role != "system"]
        fitted, _ = trim_messages([*system, note, *others], self.max_tokens, count=self.count)
        return fitted if note in fitted else [*system, note, *others[-1:]]


def summarise_with(agent: Any, max_chars: int = 12_000) -> Summariser:
    """A summariser that asks ``agent`` (an ``Agent``) to summarise the dropped messages.

    Inside a run it is called as a child step ``summary@N`` (N: the conversation's length then,
    so the path is deterministic); outside a run it runs on its own.
    """

    async def summarise(messages: list[Message], ctx: StepContext | None) -> str:
        from cadenza.engine.step import StepInput

        transcript = "\n".join(f"{m.role}: {m.content}" for m in messages)[-max_chars:]
        prompt = (
            "Summarise this earlier part of a conversation in a few sentences. Keep facts, "
            f"figures, decisions and open questions.\n\nInput:\n{transcript}"
        )
        if ctx is None:
            result = await agent.run(prompt)
            return str(result.output)
        step = agent.asking(prompt, None, name=f"{agent.name}-summary")
        done = await ctx.call(step, StepInput(ctx.run.task), f"summary@{len(messages)}")
        return str(done.output)

    return summarise
