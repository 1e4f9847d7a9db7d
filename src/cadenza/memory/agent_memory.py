"""``AgentMemory``: the three memories of an agent, and how they reach its model.

- short-term: the conversation sent to the model is fitted to a token budget (and summarised);
- working: the run's state, shared along a pipeline (``WorkingMemory.of(ctx)``);
- long-term: facts and lessons kept across runs. Before each answer the agent's lessons and the
  memories most relevant to the prompt are added to its system message (``Lessons:`` and
  ``Relevant memories:`` sections); ``remember``/``recall`` tools let the model manage it.

With no ``memory=`` an agent does none of this (and pays nothing for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cadenza.memory.long_term import LongTermMemory, agent_scope, user_scope, workflow_scope
from cadenza.memory.short_term import ShortTermMemory
from cadenza.tools.base import Tool
from cadenza.types.messages import Message

if TYPE_CHECKING:
    from cadenza.engine.context import StepContext

LESSONS_HEADING = "Lessons:"
MEMORIES_HEADING = "Relevant memories:"


@dataclass
class AgentMemory:
    """Memory for one agent (or shared by several: each agent reads and writes its own scope).

    ``user`` and ``workflow`` add those scopes to what is recalled (and ``remember`` can write
    there). ``recall_limit`` memories relevant to each prompt and the newest ``lesson_limit``
    lessons go into the system message; set either to 0 to turn it off. ``tools`` gives the agent
    ``remember`` and ``recall``; ``learn`` lets a Reflective loop keep its critic's lessons here.
    """

    long_term: LongTermMemory | None = None
    short_term: ShortTermMemory | None = None
    user: str | None = None
    workflow: str | None = None
    recall_limit: int = 3
    lesson_limit: int = 5
    tools: bool = True
    learn: bool = True

    @classmethod
    def persistent(cls, url: str | None = None, **options: Any) -> AgentMemory:
        """Long-term memory at ``url`` (the store's database by default), with these options."""
        return cls(long_term=LongTermMemory(url), **options)

    def scopes(self, agent: str) -> list[str]:
        scopes = [agent_scope(agent)]
        if self.user:
            scopes.append(user_scope(self.user))
        if self.workflow:
            scopes.append(workflow_scope(self.workflow))
        return scopes

    async def start_messages(self, agent: str, prompt: str, messages: list[Message]) -> list[Message]:
        """Add relevant memories and lessons to the system message (made if there is none)."""
        if self.long_term is None:
            return messages
        sections = []
        if self.recall_limit > 0:
            recalled = await self.long_term.recall(
                prompt, scopes=self.scopes(agent), kinds=("fact", "note"), limit=self.recall_limit
            )
            if recalled:
                sections.append(MEMORIES_HEADING + "\n" + "\n".join(f"- {m.text}" for m in recalled))
        if self.lesson_limit > 0:
            lessons = await self.long_term.recent(agent_scope(agent), "lesson", self.lesson_limit)
            if lessons:
                # oldest first: lessons read in the order they were learnt
                sections.append(LESSONS_HEADING + "\n" + "\n".join(f"- {m.text}" for m in reversed(lessons)))
        if not sections:
            return messages
        extra = "\n\n".join(sections)
        if messages and messages[0].role == "system":
            first = messages[0]
            return [Message("system", f"{first.content}\n\n{extra}"), *messages[1:]]
        return [Message("system", extra), *messages]

    async def fit(self, messages: list[Message], ctx: StepContext | None = None) -> list[Message]:
        """The conversation as sent to the model: fitted to the short-term budget, if any."""
        if self.short_term is None:
            return messages
        return await self.short_term.fit(messages, ctx)

    async def learn_lesson(self, agent: str, lesson: str, meta: dict[str, Any] | None = None) -> None:
        """Keep ``lesson`` (feedback that improved the agent's work) in the agent's memory."""
        if self.long_term is not None and self.learn and lesson.strip():
            await self.long_term.remember(lesson, scope=agent_scope(agent), kind="lesson", meta=meta)

    def tools_for(self, agent: str) -> list[Tool[Any, Any]]:
        """``remember`` and ``recall`` tools bound to ``agent``'s scopes."""
        if self.long_term is None or not self.tools:
            return []
        return memory_tools(self.long_term, self.scopes(agent))


def memory_tools(memory: LongTermMemory, scopes: Sequence[str]) -> list[Tool[Any, Any]]:
    """``remember(text)`` writes to the first scope; ``recall(query)`` searches all of them."""
    own = scopes[0]
    readable = list(scopes)

    async def remember(text: str) -> str:
        """Save a fact worth keeping for later conversations and tasks.

        Args:
            text: the fact, in one or two self-contained sentences.
        """
        await memory.remember(text, scope=own, kind="fact")
        return "Remembered."

    async def recall(query: str, limit: int = 5) -> list[dict[str, Any]]:
        """Search what was remembered before (facts, notes and lessons), best match first.

        Args:
            query: what to look for, in plain words.
            limit: how many memories to return.
        """
        found = await memory.recall(query, scopes=readable, limit=min(max(limit, 1), 20))
        return [m.to_dict() for m in found]

    return [Tool(remember, name="remember", idempotent=True), Tool(recall, name="recall")]
