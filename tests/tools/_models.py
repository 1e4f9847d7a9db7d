"""A scripted model for tool tests: call one tool with given arguments, then answer with what
the tool returned (or the error it gave)."""

from __future__ import annotations

import json
from typing import Any

from cadenza import FunctionModel
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.messages import Message, ToolCall


def calls_tool(tool: str, **arguments: Any) -> FunctionModel:
    def reply(messages: list[Message], request: ModelRequest) -> ModelResponse | str:
        results = [m for m in messages if m.role == "tool"]
        if results:
            return f"The tool said: {results[-1].content}"
        return ModelResponse(tool_calls=[ToolCall("call_1", tool, json.dumps(arguments))])

    return FunctionModel(reply, name=f"calls_{tool}")
