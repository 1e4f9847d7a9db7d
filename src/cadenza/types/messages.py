"""Provider-neutral chat messages and tool calls.

Plain slotted dataclasses: they are built on every model call, so they skip validation. Provider
modules translate them to and from each wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    """A model's request to call a tool. ``arguments`` is the JSON text the model produced.

    It is kept as text because models do produce malformed JSON; the engine parses it and sends
    a tool error back to the model when it cannot.
    """

    id: str
    name: str
    arguments: str = "{}"


@dataclass(slots=True)
class Message:
    """One chat message. ``tool_calls`` for assistant turns, ``tool_call_id`` for tool results."""

    role: Role
    content: str = ""
    tool_calls: Sequence[ToolCall] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the fields that are set."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        if self.is_error:
            data["is_error"] = True
        return data
