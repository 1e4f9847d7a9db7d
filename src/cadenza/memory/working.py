"""Working memory: the per-task scratchpad every step of a run shares.

It *is* the run's state (``ctx.run.state``): a pipeline hands it from stage to stage, a gate
rolls it back, the journal records it, and it travels with the run to another worker. This
wrapper gives it a small vocabulary (notes, facts, key-value) without a second copy, so what
one stage writes the next one reads.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from cadenza.engine.context import StepContext

NOTES = "notes"


class WorkingMemory(MutableMapping[str, Any]):
    """A view of the run's state with helpers for notes shared along a pipeline."""

    __slots__ = ("_state",)

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    @classmethod
    def of(cls, ctx: StepContext) -> WorkingMemory:
        """The working memory of the run ``ctx`` belongs to."""
        return cls(ctx.run.state)

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def note(self, author: str, text: str) -> None:
        """Append a note (who wrote it, what it says) for the later steps to read."""
        self._state.setdefault(NOTES, []).append({"author": author, "text": text})

    def notes(self, author: str | None = None) -> list[dict[str, str]]:
        """The notes so far, oldest first (only ``author``'s when given)."""
        notes: list[dict[str, str]] = self._state.get(NOTES, [])
        return [n for n in notes if author is None or n["author"] == author]

    def render(self, max_notes: int = 20) -> str:
        """The notes as text for a prompt (the newest ``max_notes``)."""
        return "\n".join(f"- {n['author']}: {n['text']}" for n in self.notes()[-max_notes:])
