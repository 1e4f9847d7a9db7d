"""Conversations: a thread of runs whose messages, context and history carry over.

The seed's ConversationState is stored per conversation id. A run in a conversation gets the
recent messages as task context (so every agent sees them) and the conversation's context as its
working memory; when it succeeds, its input and output are appended and the run is added to the
conversation's history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cadenza.store.records import ConversationRecord
from cadenza.types.results import RunResult, Task

if TYPE_CHECKING:
    from cadenza.store.records import RunRecord
    from cadenza.store.store import Store

RECENT_MESSAGES = 20


async def start_in_conversation(
    store: Store, conversation: str, task: Task, state: dict[str, Any] | None
) -> tuple[Task, dict[str, Any] | None]:
    """The task with the conversation's recent messages in its context, and the starting state."""
    record = await store.load_conversation(conversation)
    if record is None:
        # Created up front: the run refers to it.
        await store.save_conversation(ConversationRecord(conversation, metadata={"name": conversation}))
        return task, state
    if not record.messages:
        return task, state
    context = {**task.context, "conversation": record.messages[-RECENT_MESSAGES:]}
    merged = {**record.context, **(state or {})}
    return Task(task.description, context, task.expected_output), merged or None


async def finish_in_conversation(
    store: Store, conversation: str, run: RunRecord, task: Task, result: RunResult, state: dict[str, Any]
) -> None:
    """Append the run's exchange and its history entry; the run's working memory becomes the
    conversation's context (what the next run starts from)."""
    from cadenza.agents.agent import to_text
    from cadenza.durable.driver import jsonable

    record = await store.load_conversation(conversation)
    if record is None:
        record = ConversationRecord(run.conversation_id or conversation, metadata={"name": conversation})
    record.messages.append({"role": "user", "content": task.description})
    record.messages.append({"role": "assistant", "content": to_text(result.output)})
    record.workflow_history.append(
        {
            "run_id": run.id,
            "workflow": run.workflow,
            "status": result.status,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    record.metadata["last_run"] = run.id
    record.id = conversation
    record.context = {**record.context, **jsonable(state)}
    await store.save_conversation(record)
