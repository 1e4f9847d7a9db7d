"""The small async protocol every model provider implements, and the data it exchanges.

A provider is anything with a ``name`` and an async ``complete(request)``; ``stream(request)`` is
optional (the engine falls back to ``complete``). Users plug their own provider in by passing such
an object as ``model=``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage


@dataclass(slots=True, frozen=True)
class ToolDefinition:
    """What a model is told about a tool: its name, description and JSON Schema of arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True, frozen=True)
class OutputSchema:
    """A structured output the model must produce: a JSON Schema named after its type."""

    name: str
    json_schema: dict[str, Any]
    description: str = ""


@dataclass(slots=True)
class ModelRequest:
    """One call to a model. ``max_tokens`` bounds the answer (the budget may lower it)."""

    messages: list[Message]
    tools: list[ToolDefinition] = field(default_factory=list)
    output_schema: OutputSchema | None = None
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(slots=True)
class ModelResponse:
    """A model's answer: text and/or tool calls, and the usage the provider reported."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"


@runtime_checkable
class Model(Protocol):
    """An async chat model. ``name`` is ``provider:model`` and is what prices are looked up by."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


@runtime_checkable
class StreamingModel(Model, Protocol):
    """A model that can also stream: yields text pieces, then exactly one final ModelResponse."""

    def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]: ...
