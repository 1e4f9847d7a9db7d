"""``FunctionModel``: a model whose answers come from a Python function.

For users' tests (script exact responses, tool calls and usage) and for benchmarks (a
zero-latency model). The function gets the messages and the request and returns a
``ModelResponse`` or plain text; it may be sync or async.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Union

from cadenza.errors import ModelResponseError
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.messages import Message
from cadenza.types.usage import Usage

Reply = Union[ModelResponse, str]  # noqa: UP007 - a runtime alias, kept readable
ModelFunction = Callable[[list[Message], ModelRequest], Reply | Awaitable[Reply]]


class FunctionModel:
    """A Model backed by ``fn(messages, request)``. Plain-text replies get estimated usage."""

    def __init__(self, fn: ModelFunction, *, name: str | None = None) -> None:
        self.fn = fn
        self._name = f"function:{name or getattr(fn, '__name__', 'fn')}"
        self._is_async = inspect.iscoroutinefunction(fn)

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        reply = self.fn(request.messages, request)
        if self._is_async or inspect.isawaitable(reply):
            reply = await reply  # type: ignore[misc]
        if isinstance(reply, ModelResponse):
            return reply
        if not isinstance(reply, str):
            raise ModelResponseError(
                f"the function returned {type(reply).__name__}; return a ModelResponse or a str",
                model=self._name,
            )
        return ModelResponse(text=reply, usage=estimate_usage(request.messages, reply), model=self._name)


def estimate_usage(messages: list[Message], text: str) -> Usage:
    """A rough, deterministic token count (4 characters a token) for models with no tokenizer."""
    prompt_chars = sum(len(m.content) + 4 for m in messages)
    return Usage(input_tokens=prompt_chars // 4 + 1, output_tokens=len(text) // 4 + 1)
