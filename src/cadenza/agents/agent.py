"""``Agent``: a model, instructions and tools, running the model <-> tool loop as a Step."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from cadenza.engine.budget import Budget, agent_budget
from cadenza.engine.calls import call_model, call_tool
from cadenza.engine.context import StepContext
from cadenza.engine.retry import DEFAULT_RETRY, RetryPolicy
from cadenza.engine.step import Step, StepInput
from cadenza.errors import ConfigurationError, OutputValidationError, validation_problems
from cadenza.models.base import Model, ModelRequest, OutputSchema
from cadenza.models.registry import infer_models
from cadenza.tools.base import Tool, as_tool
from cadenza.types.messages import Message, ToolCall
from cadenza.types.results import StepResult, Task

if TYPE_CHECKING:
    from cadenza.memory.agent_memory import AgentMemory

_FENCE = re.compile(r"^```(?:[A-Za-z]+\b)?\s*(.*?)\s*```$", re.DOTALL)


class Agent(Step):
    """An LLM agent: calls its model, runs the tools the model asks for, returns an output.

    ``model`` is a ``provider:name`` string, a ``Model`` object, or a list of them tried in
    order (fallbacks). With ``output_type`` (a pydantic model or any type pydantic can validate)
    the answer is parsed and validated, with one repair request when it does not fit.
    ``memory`` (a ``cadenza.memory.AgentMemory``) adds lessons and recalled facts to the system
    message, fits the conversation to a token budget, and gives the agent remember/recall tools.
    """

    kind = "agent"

    def __init__(
        self,
        name: str,
        *,
        model: str | Model | Sequence[str | Model] = "offline",
        instructions: str = "",
        tools: Sequence[Tool[Any, Any] | Any] = (),
        capabilities: Sequence[str] = (),
        description: str = "",
        output_type: Any = None,
        max_tool_rounds: int = 8,
        max_tokens: int | None = None,
        temperature: float | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        budget: Budget | None = None,
        memory: AgentMemory | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ConfigurationError("an agent needs a non-empty name")
        if max_tool_rounds < 0:
            raise ConfigurationError(f"agent {name!r}: max_tool_rounds must be >= 0, got {max_tool_rounds}")
        self.name = name
        self.models: list[Model] = infer_models(model)
        self.instructions = instructions
        self.tools: dict[str, Tool[Any, Any]] = {}
        for t in tools:
            resolved = as_tool(t)
            if resolved.name in self.tools:
                raise ConfigurationError(f"agent {name!r}: two tools are named {resolved.name!r}")
            self.tools[resolved.name] = resolved
        self.capabilities = list(capabilities)
        self.description = description or instructions.split("\n", 1)[0]
        if output_type is not None:
            _check_output_type(name, output_type)
        self.output_type = output_type
        self.max_tool_rounds = max_tool_rounds
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retry = retry
        if budget is not None and not isinstance(budget, Budget):
            raise ConfigurationError(f"agent {name!r}: budget must be a cadenza.Budget, got {budget!r}")
        self.budget = budget
        # Memory (cadenza.memory.AgentMemory): lessons and recalled facts in the system message,
        # the conversation fitted to a token budget, remember/recall tools. None costs nothing.
        self.memory = memory
        if memory is not None:
            for memory_tool in memory.tools_for(name):
                self.tools.setdefault(memory_tool.name, memory_tool)

    @property
    def model(self) -> Model:
        """The first (preferred) model."""
        return self.models[0]

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, model={self.model.name!r})"

    def invoke(self, ctx: StepContext, input: StepInput) -> Coroutine[Any, Any, StepResult]:
        # Returns respond's coroutine instead of awaiting it: one frame less per step in flight.
        return self.respond(ctx, render_prompt(input), self.output_type)

    def asking(self, prompt: str, output_type: Any = None, *, name: str | None = None) -> Step:
        """A one-off Step that sends this agent ``prompt`` and expects ``output_type``.

        Patterns use it for the calls that are not the agent's own job: a supervisor's plan, a
        critic's score, a judge's verdict.
        """
        return _Ask(self, prompt, output_type, name or self.name)

    async def respond(self, ctx: StepContext, prompt: str, output_type: Any) -> StepResult:
        """The model <-> tool loop for one prompt, ending in a validated output.

        One coroutine for the whole loop: with thousands of runs in flight, every extra frame per
        step is memory and garbage-collector work.
        """
        if self.budget is not None:
            # The agent's own limits, per run, on top of the run's (see engine/budget.py).
            ctx.budget = agent_budget(ctx.run, ctx.budget, self.name, self.budget)
        # A durable run records each agent invocation as a task (cadenza.durable.recorder).
        tasks = _task_log(ctx.run.sinks) if ctx.run.journal is not None else None
        if tasks is not None:
            tasks.task_prompt(ctx.path, prompt)
        messages = self._start_messages(prompt, output_type)
        memory = self.memory
        if memory is not None:
            messages = await memory.start_messages(self.name, prompt, messages)
        schema = output_schema(output_type) if output_type is not None else None
        tool_defs = [t.definition for t in self.tools.values()] if self.tools else []
        tool_index = 0
        for round_number in range(self.max_tool_rounds + 1):
            offer_tools = tool_defs if round_number < self.max_tool_rounds else []
            sent = messages if memory is None else await memory.fit(messages, ctx)
            request = ModelRequest(sent, offer_tools, schema, self.max_tokens, self.temperature)
            response = await call_model(ctx, self.models, request, self.retry)
            calls = response.tool_calls
            if not calls or not offer_tools:
                break
            messages.append(Message("assistant", response.text, tool_calls=list(calls)))
            first = tool_index + 1
            tool_index += len(calls)
            if len(calls) == 1:
                messages.append(await call_tool(ctx, self.tools, calls[0], first))
            else:
                messages.extend(await _call_tools_concurrently(ctx, self.tools, calls, first))
        text = response.text
        messages.append(Message("assistant", text))
        if output_type is None:
            result = ctx.result(self.name, text, messages=messages)
        else:
            output = await self._parse_or_repair(ctx, messages, schema, output_type, text)
            confidence = getattr(output, "confidence", None)
            result = ctx.result(
                self.name,
                output,
                messages=messages,
                confidence=confidence if isinstance(confidence, int | float) else None,
            )
        if tasks is not None:
            tasks.task_output(ctx.path, result.output)
        return result

    def _start_messages(self, prompt: str, output_type: Any) -> list[Message]:
        system = self.instructions
        if output_type is not None:
            name = output_schema(output_type).name
            system = f"{system}\n\nAnswer with a single JSON value matching the {name} schema.".strip()
        if system:
            return [Message("system", system), Message("user", prompt)]
        return [Message("user", prompt)]

    async def _parse_or_repair(
        self,
        ctx: StepContext,
        messages: list[Message],
        schema: OutputSchema | None,
        output_type: Any,
        text: str,
    ) -> Any:
        try:
            return parse_output(output_type, text)
        except ValueError as first_error:
            messages.append(
                Message(
                    "user",
                    f"Your answer did not match the required schema: {first_error}. "
                    "Reply again with only the corrected JSON.",
                )
            )
        request = ModelRequest(messages, [], schema, self.max_tokens, self.temperature)
        response = await call_model(ctx, self.models, request, self.retry)
        messages.append(Message("assistant", response.text))
        try:
            return parse_output(output_type, response.text)
        except ValueError as exc:
            raise OutputValidationError(
                self.name, output_schema(output_type).name, str(exc), response.text
            ) from None


def _task_log(sinks: Sequence[Any]) -> Any:
    """The run's sink that records agent invocations as tasks, if any (a durable run's)."""
    for sink in sinks:
        if getattr(sink, "task_prompt", None) is not None:
            return sink
    return None


async def _call_tools_concurrently(
    ctx: StepContext, tools: dict[str, Tool[Any, Any]], calls: Sequence[ToolCall], first: int
) -> list[Message]:
    """Run one turn's tool calls together; each keeps the index of its place in the turn."""
    return list(await asyncio.gather(*(call_tool(ctx, tools, c, first + i) for i, c in enumerate(calls))))


class _Ask(Step):
    kind = "agent"

    def __init__(self, agent: Agent, prompt: str, output_type: Any, name: str) -> None:
        self.agent = agent
        self.prompt = prompt
        self.output_type = output_type
        self.name = name

    def invoke(self, ctx: StepContext, input: StepInput) -> Coroutine[Any, Any, StepResult]:
        # Like Agent.invoke: hands back respond's coroutine, one frame less per call in flight.
        return self.agent.respond(ctx, self.prompt, self.output_type)


def _check_output_type(agent: str, output_type: Any) -> None:
    """Fail when the agent is defined, naming it, if ``output_type`` has no JSON Schema."""
    try:
        output_schema(output_type)
    except Exception as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        type_name = getattr(output_type, "__name__", None) or repr(output_type)
        raise ConfigurationError(
            f"agent {agent!r}: output_type {type_name} has no JSON Schema: {first_line}"
        ) from None


def render_prompt(input: StepInput) -> str:
    """The user message for a step: the task, the input it was handed, feedback to address."""
    task: Task = input.task
    parts = [task.description]
    if task.context:
        parts.append(f"Context:\n{to_text(task.context)}")
    if input.data is not None:
        parts.append(f"Input:\n{to_text(input.data)}")
    if input.feedback:
        parts.append(f"Feedback to address:\n{input.feedback}")
    if task.expected_output:
        parts.append(f"Expected output: {task.expected_output}")
    return "\n\n".join(parts)


def to_text(value: Any) -> str:
    """Render any step output as text for a prompt: JSON for structured data."""
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump(indent=2))
    try:
        return json.dumps(value, indent=2, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


@cache
def _adapter(output_type: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(output_type)


@cache
def output_schema(output_type: Any) -> OutputSchema:
    """The JSON Schema a model is asked to fill for ``output_type`` (cached per type)."""
    schema = _adapter(output_type).json_schema()
    name = getattr(output_type, "__name__", None) or str(schema.get("title", "Output"))
    return OutputSchema(name, schema, (getattr(output_type, "__doc__", None) or "").strip())


def parse_output(output_type: Any, text: str) -> Any:
    """Validate a model's text as ``output_type``; ``ValueError`` names what is wrong."""
    from pydantic import ValidationError

    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    if output_type is str:
        return body
    try:
        return _adapter(output_type).validate_json(body)
    except ValidationError as exc:
        raise ValueError(validation_problems(exc)) from None
