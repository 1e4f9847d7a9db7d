"""A step that takes its time, importable by a server subprocess (workflow ``imports:``)."""

from __future__ import annotations

import asyncio

from cadenza.engine.context import StepContext
from cadenza.engine.step import Step, StepInput
from cadenza.patterns import register_pattern
from cadenza.types.results import StepResult


@register_pattern("test_sleep")
class Sleep(Step):
    """Sleeps ``seconds`` then passes its input on: lets tests watch, cancel or kill a running run."""

    kind = "sleep"

    def __init__(self, seconds: float = 0.5, name: str = "sleep") -> None:
        self.seconds = seconds
        self.name = name

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        await asyncio.sleep(self.seconds)
        return ctx.result(self.name, input.data)
