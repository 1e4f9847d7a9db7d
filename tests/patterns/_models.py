"""Scripted models for pattern tests: replies by prompt, a log of who ran when."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cadenza import Agent, FunctionModel
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types import Message, Usage


def prompt_of(messages: list[Message]) -> str:
    """The last user message: the prompt a step built."""
    return next(m.content for m in reversed(messages) if m.role == "user")


@dataclass
class Log:
    """Start and end times of model calls, by agent name, and every prompt each agent saw."""

    started: dict[str, list[float]] = field(default_factory=dict)
    ended: dict[str, list[float]] = field(default_factory=dict)
    prompts: dict[str, list[str]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    def agent(
        self,
        name: str,
        reply: str | Callable[[str], str] | None = None,
        *,
        delay: float = 0.0,
        usage: Usage | None = None,
        **kwargs: object,
    ) -> Agent:
        """An agent whose model logs its calls, waits ``delay`` and answers ``reply``."""

        async def model(messages: list[Message], request: ModelRequest) -> ModelResponse:
            prompt = prompt_of(messages)
            self.prompts.setdefault(name, []).append(prompt)
            self.started.setdefault(name, []).append(time.perf_counter())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if delay:
                    await asyncio.sleep(delay)
            finally:
                self.in_flight -= 1
            self.ended.setdefault(name, []).append(time.perf_counter())
            text = reply(prompt) if callable(reply) else (reply if reply is not None else f"{name} done")
            return ModelResponse(text=text, usage=(usage or Usage(10, 5)).copy())

        return Agent(name, model=FunctionModel(model, name=name), **kwargs)  # type: ignore[arg-type]
