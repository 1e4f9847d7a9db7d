"""The engine's two doors to the outside world: model calls and tool calls.

Everything non-deterministic a run does passes through here, under a deterministic path, so
that retries, fallbacks, pricing, budgets and events are handled in exactly one place.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from cadenza.engine.context import StepContext
from cadenza.engine.retry import RetryPolicy
from cadenza.errors import ModelError, ToolError
from cadenza.models.base import Model, ModelRequest, ModelResponse
from cadenza.models.pricing import cost_of
from cadenza.observability import _capture
from cadenza.tools.base import Tool
from cadenza.types.events import FallbackUsed, LLMCall, RetryScheduled, TextDelta, ToolCalled
from cadenza.types.messages import Message, ToolCall


def call_model(
    ctx: StepContext, models: Sequence[Model], request: ModelRequest, retry: RetryPolicy
) -> Coroutine[Any, Any, ModelResponse]:
    """One model call of a step: replayed or journaled, retried, falling back along ``models``,
    priced and recorded; ``await call_model(...)`` gives the response.

    The common case — one model, no journal — hands back the retry loop's coroutine itself: with
    thousands of runs in flight, each frame a call keeps alive is memory and collector work.
    """
    path = f"{ctx.path}/llm#{ctx.next_call_index()}"
    if ctx.run.journal is None and len(models) == 1:
        return _call_with_retries(ctx, path, models[0], request, retry)
    return _call_journaled_with_fallbacks(ctx, path, models, request, retry)


async def _call_journaled_with_fallbacks(
    ctx: StepContext, path: str, models: Sequence[Model], request: ModelRequest, retry: RetryPolicy
) -> ModelResponse:
    run = ctx.run
    journal = run.journal
    if journal is not None:
        # A durable run: a call completed before a crash or a pause is replayed, never re-sent.
        replayed: ModelResponse | None = journal.replay_model(ctx, path)
        if replayed is not None:
            return replayed
    last = len(models) - 1
    for position, model in enumerate(models):
        try:
            response = await _call_with_retries(ctx, path, model, request, retry)
        except ModelError as exc:
            if position == last:
                raise
            run.emit(
                FallbackUsed(
                    run_id=run.run_id,
                    path=path,
                    at=time.time(),
                    from_model=model.name,
                    to_model=models[position + 1].name,
                    reason=str(exc),
                )
            )
            continue
        if journal is not None:
            # Durable before the run moves on: returns once the entry's batch is committed.
            await journal.record_model(path, model.name, response)
        return response
    raise AssertionError("unreachable: an agent always has at least one model")


async def _call_with_retries(
    ctx: StepContext, path: str, model: Model, request: ModelRequest, retry: RetryPolicy
) -> ModelResponse:
    """Call ``model`` until it answers or fails for good, streaming text deltas when the run is
    being streamed."""
    run = ctx.run
    budget = ctx.budget
    attempt = 1
    while True:
        reservation = None
        sending = request
        if budget is not None:
            # Raises BudgetExceeded, before anything is sent, when the call could cross a limit.
            reservation, sending = budget.reserve(model.name, request, path)
        started = time.perf_counter()
        try:
            stream = getattr(model, "stream", None) if run.streaming else None
            if stream is None:
                response = await model.complete(sending)
            else:
                response = await _consume_stream(ctx, path, stream(sending), model.name)
        except Exception as exc:
            if reservation is not None:
                reservation.release(sent=True)
            error = as_model_error(exc, model.name)
            if not error.retryable or attempt >= retry.max_attempts:
                if error is exc:
                    raise
                raise error from exc
            delay = retry.delay(attempt, error.retry_after)
            run.emit(
                RetryScheduled(
                    run_id=run.run_id,
                    path=path,
                    at=time.time(),
                    model=model.name,
                    attempt=attempt,
                    delay=delay,
                    reason=str(error),
                )
            )
            await asyncio.sleep(delay)
            attempt += 1
            continue
        except BaseException:
            if reservation is not None:
                reservation.release(sent=True)
            raise
        usage = response.usage
        usage.requests = 1
        cost = cost_of(model.name, usage)
        ctx.record(usage, cost)
        if reservation is not None:
            reservation.settle(usage, cost)
        run.emit(
            LLMCall(
                run_id=run.run_id,
                path=path,
                at=time.time(),
                model=model.name,
                usage=usage,
                cost=cost,
                duration=time.perf_counter() - started,
                finish_reason=response.finish_reason,
                tool_calls=len(response.tool_calls),
                response_model=response.model,
                max_tokens=sending.max_tokens,
                **(_capture.content(sending, response) if _capture.enabled else {}),
            )
        )
        return response


def as_model_error(exc: Exception, model: str) -> ModelError:
    """Any failure of a model call as a ``ModelError``.

    Providers raise ``ModelError`` themselves; anything else comes from a user's own model or the
    network layer, and timeouts and connection errors are worth a retry.
    """
    if isinstance(exc, ModelError):
        return exc
    retryable = isinstance(exc, TimeoutError | ConnectionError)
    return ModelError(f"{type(exc).__name__}: {exc}", model=model, retryable=retryable)


async def _consume_stream(ctx: StepContext, path: str, stream: Any, model_name: str) -> ModelResponse:
    run = ctx.run
    async for item in stream:
        if isinstance(item, ModelResponse):
            return item
        run.emit(TextDelta(run_id=run.run_id, path=path, at=time.time(), text=item))
    raise ModelError("stream ended without a final response", model=model_name)


async def call_tool(
    ctx: StepContext, tools: dict[str, Tool[Any, Any]], call: ToolCall, index: int
) -> Message:
    """Run one tool call and return the tool message for the model; failures become tool errors."""
    run = ctx.run
    path = f"{ctx.path}/tool#{index}:{call.name}"
    journal = run.journal
    if journal is not None:
        # Raises when a non-idempotent call was in flight at a crash: it is surfaced, not repeated.
        replayed: tuple[str | None, str | None] | None = journal.replay_tool(path, call.name)
        if replayed is not None:
            return _tool_message(call, *replayed)
    started = time.perf_counter()
    output: str | None = None
    error: str | None = None
    try:
        tool = tools.get(call.name)
        if tool is None:
            raise ToolError(call.name, f"no such tool; available: {', '.join(tools) or 'none'}")
        arguments = _parse_arguments(call)
        if journal is not None and not tool.idempotent:
            await journal.mark_tool_started(path)
        output = await tool.invoke(arguments)
    except ToolError as exc:
        error = exc.detail
    run.emit(
        ToolCalled(
            run_id=run.run_id,
            path=path,
            at=time.time(),
            tool=call.name,
            arguments=call.arguments,
            output=output,
            error=error,
            duration=time.perf_counter() - started,
        )
    )
    if journal is not None:
        await journal.record_tool(path, output, error)
    return _tool_message(call, output, error)


def _tool_message(call: ToolCall, output: str | None, error: str | None) -> Message:
    if error is not None:
        return Message("tool", f"Error: {error}", tool_call_id=call.id, name=call.name, is_error=True)
    return Message("tool", output or "", tool_call_id=call.id, name=call.name)


def _parse_arguments(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise ToolError(call.name, f"arguments are not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(arguments, dict):
        raise ToolError(call.name, "arguments must be a JSON object")
    return arguments
