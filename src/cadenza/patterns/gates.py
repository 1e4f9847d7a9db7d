"""Quality gates: checks on a step's output that pass it on or send it back with feedback.

A gate is a plain Python callable, a pydantic model (the output must validate against it), or an
LLM judge agent. ``as_gate`` turns any of these into a ``Gate``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cadenza.engine.context import StepContext
from cadenza.engine.step import StepInput
from cadenza.errors import WorkflowDefinitionError, validation_problems

if TYPE_CHECKING:
    from cadenza.agents.agent import Agent


@dataclass
class Verdict:
    """A gate's decision: whether the output passes, and what to fix when it does not."""

    passed: bool
    feedback: str = ""


@runtime_checkable
class Gate(Protocol):
    """Anything with a name and an async ``check(ctx, output, attempt)`` returning a Verdict."""

    name: str

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict: ...


class CallableGate:
    """A Python function of the output: True/None pass, False fails, a string is the feedback.

    It may also return a ``Verdict``, be async, or raise (the exception message is the feedback).
    """

    def __init__(self, fn: Callable[[Any], Any], name: str | None = None) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "check"))

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict:
        try:
            verdict = self.fn(output)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:
            return Verdict(False, f"{type(exc).__name__}: {exc}")
        if isinstance(verdict, Verdict):
            return verdict
        if verdict is None or verdict is True:
            return Verdict(True)
        if verdict is False:
            return Verdict(False, f"the output did not pass {self.name}")
        return Verdict(False, str(verdict))


class SchemaGate:
    """The output must be (or parse as) an instance of a pydantic model."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.name = f"schema:{model.__name__}"

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict:
        from pydantic import ValidationError

        if isinstance(output, self.model):
            return Verdict(True)
        try:
            if isinstance(output, str | bytes):
                self.model.model_validate_json(output)
            else:
                data = output.model_dump() if hasattr(output, "model_dump") else output
                self.model.model_validate(data)
        except ValidationError as exc:
            return Verdict(False, f"output does not match {self.model.__name__}: {validation_problems(exc)}")
        return Verdict(True)


class JudgeGate:
    """An LLM judge: an agent reads the output against criteria and returns a Verdict."""

    def __init__(self, judge: Agent, criteria: str = "") -> None:
        self.judge = judge
        self.criteria = criteria or judge.instructions or "Is the output complete and correct?"
        self.name = f"judge:{judge.name}"

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict:
        from cadenza.agents.agent import to_text

        prompt = (
            f"Judge whether the output meets the criteria.\n\nCriteria:\n{self.criteria}"
            f"\n\nOutput:\n{to_text(output)}"
        )
        result = await ctx.call(
            self.judge.asking(prompt, Verdict), StepInput(ctx.run.task), f"gate#{attempt}:{self.judge.name}"
        )
        verdict: Verdict = result.output
        return verdict


def as_gate(obj: Any) -> Gate:
    """Accept a Gate, an Agent (judge), a pydantic model class (schema) or a callable."""
    from cadenza.agents.agent import Agent

    if isinstance(obj, Agent):
        return JudgeGate(obj)
    if isinstance(obj, type) and hasattr(obj, "model_validate"):
        return SchemaGate(obj)
    if isinstance(obj, Gate):
        return obj
    if callable(obj):
        return CallableGate(obj)
    raise WorkflowDefinitionError(
        f"a gate must be a callable, a pydantic model class, an Agent or a Gate; got {obj!r}"
    )
