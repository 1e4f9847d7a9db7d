"""``AnthropicModel``: Claude through the official ``anthropic`` SDK (Messages API).

The SDK is imported on the first call; its retries are off (the engine retries); credentials
follow the SDK's own chain (``api_key=``, ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN``,
profiles), and ``ANTHROPIC_BASE_URL`` is honoured by the SDK. Structured output uses the API's
native JSON-schema output format (``output_config.format``), with the schema made compatible by
the SDK's own ``transform_schema``; the Agent still validates and repairs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from cadenza.errors import ConfigurationError, MissingCredentialsError, ModelResponseError
from cadenza.models._clients import import_sdk, pooled_client
from cadenza.models._errors import translate_error
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage

log = logging.getLogger("cadenza.models.anthropic")

DEFAULT_MAX_TOKENS = 4096
_warned_temperature: set[str] = set()
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


class AnthropicModel:
    """A Claude model. ``name`` is ``anthropic:MODEL``.

    The Messages API requires ``max_tokens``: requests without one get ``max_tokens`` (default
    4096). It takes no ``temperature`` (the installed SDK has no such parameter): an agent's
    temperature is ignored with a warning, once per model. ``timeout`` is seconds per request
    (the SDK's default when ``None``). A missing key raises ``MissingCredentialsError`` on the
    first call, naming ``ANTHROPIC_API_KEY``.
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        timeout: float | None = None,
        native_structured_output: bool = True,
    ) -> None:
        if not name:
            raise ConfigurationError("AnthropicModel: empty model name")
        self.model_name = name
        self.base_url = base_url
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.native_structured_output = native_structured_output

    @property
    def name(self) -> str:
        return f"anthropic:{self.model_name}"

    def __repr__(self) -> str:
        return f"AnthropicModel({self.name!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await import_sdk("anthropic")
        client = self._client()
        try:
            message = await client.messages.create(**self._params(request))
        except Exception as exc:
            raise translate_error(exc, self.name) from exc
        return _response(message, self.name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        await import_sdk("anthropic")
        client = self._client()
        builder = _StreamedMessage(self.name)
        try:
            events = await client.messages.create(**self._params(request), stream=True)
            async with events:
                async for event in events:
                    text = builder.add(event)
                    if text:
                        yield text
        except Exception as exc:
            raise translate_error(exc, self.name) from exc
        yield builder.response()

    # -- request -----------------------------------------------------------------------------

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        system, messages = _messages(request.messages)
        params: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": request.max_tokens or self.max_tokens,
            "messages": messages,
        }
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        schema = request.output_schema
        if schema is not None:
            transform = _schema_transform() if self.native_structured_output else None
            if transform is not None:
                params["output_config"] = {
                    "format": {"type": "json_schema", "schema": transform(schema.json_schema)}
                }
            else:
                instructions = (
                    f"Reply with only a JSON value (no prose, no code fence) matching this JSON Schema "
                    f"for {schema.name}:\n{json.dumps(schema.json_schema)}"
                )
                system = f"{system}\n\n{instructions}".strip()
        if system:
            params["system"] = system
        if request.temperature is not None:
            _warn_temperature_ignored(self.name)
        return params

    # -- client ------------------------------------------------------------------------------

    def _client(self) -> Any:
        api_key = self.api_key or os.environ.get("ANTHROPIC_API_KEY") or None
        base_url = self.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        auth_token = os.environ.get("ANTHROPIC_AUTH_TOKEN") if api_key is None else None
        key = ("anthropic", base_url, api_key, auth_token, self.timeout)
        timeout = self.timeout

        def build() -> Any:
            import anthropic

            options: dict[str, Any] = {"base_url": base_url, "max_retries": 0}
            if api_key is not None:
                options["api_key"] = api_key
            if timeout is not None:
                options["timeout"] = timeout
            return anthropic.AsyncAnthropic(**options)

        client = pooled_client(key, build)
        credentials = (client.api_key, client.auth_token, getattr(client, "credentials", None))
        if all(c is None for c in credentials):
            raise MissingCredentialsError(self.name, "ANTHROPIC_API_KEY")
        return client


def _schema_transform() -> Any:
    """The SDK's schema adapter for native structured output; ``None`` on SDKs without it."""
    try:
        from anthropic import transform_schema
    except ImportError:  # an SDK from before structured outputs: the schema goes in the prompt
        return None
    return transform_schema


def _warn_temperature_ignored(model: str) -> None:
    """The Messages API of the installed SDK has no ``temperature``: say so once, send nothing."""
    if model not in _warned_temperature:
        _warned_temperature.add(model)
        log.warning("%s: the Anthropic Messages API takes no temperature; it is ignored", model)


def _messages(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """Our messages as Anthropic's: system text apart, tool results as user blocks, roles merged.

    The Messages API wants user and assistant turns to alternate, so consecutive turns of one
    role (several tool results, a tool result then a repair prompt) are merged into one.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(s for s in system if s), turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            block["is_error"] = True
        return [block]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call)})
    return blocks


def _tool_input(call: ToolCall) -> Any:
    """A tool call's arguments as the object Anthropic wants (kept as text if they are not JSON)."""
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {"_raw_arguments": call.arguments}
    return value if isinstance(value, dict) else {"_value": value}


def _usage(usage: Any) -> Usage:
    return Usage() if usage is None else _usage_from_dict(usage.model_dump())


def _response(message: Any, model: str) -> ModelResponse:
    content = getattr(message, "content", None)
    if content is None:
        raise ModelResponseError("the response has no content", model=model, retryable=True)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, block.name, json.dumps(block.input)))
    stop = message.stop_reason or ("tool_use" if calls else "end_turn")
    return ModelResponse(
        text="".join(texts),
        tool_calls=calls,
        usage=_usage(message.usage),
        model=model,
        finish_reason=_FINISH.get(stop, stop),
    )


class _StreamedMessage:
    """Accumulates Messages API stream events (text and tool-input deltas, usage) into a response."""

    __slots__ = ("blocks", "model", "stop_reason", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage: Any = None
        self.stop_reason: str | None = None

    def add(self, event: Any) -> str:
        """Take one stream event in; return its text (possibly empty)."""
        kind = event.type
        if kind == "message_start":
            self.usage = event.message.usage.model_dump()
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                tool_use = {"type": "tool_use", "id": block.id, "name": block.name, "json": ""}
                self.blocks[event.index] = tool_use
            elif block.type == "text":
                self.blocks[event.index] = {"type": "text", "text": block.text or ""}
                return block.text or ""
        elif kind == "content_block_delta":
            return self._delta(event.index, event.delta)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            reported = {k: v for k, v in event.usage.model_dump().items() if v is not None}
            self.usage = {**(self.usage or {}), **reported}
        return ""

    def _delta(self, index: int, delta: Any) -> str:
        block = self.blocks.get(index)
        if block is None:
            return ""
        if delta.type == "text_delta":
            block["text"] += delta.text
            return str(delta.text)
        if delta.type == "input_json_delta":
            block["json"] += delta.partial_json
        return ""

    def response(self) -> ModelResponse:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for _, block in sorted(self.blocks.items()):
            if block["type"] == "text":
                texts.append(block["text"])
            else:
                calls.append(ToolCall(block["id"], block["name"], block["json"] or "{}"))
        usage = self.usage or {}
        stop = self.stop_reason or ("tool_use" if calls else "end_turn")
        return ModelResponse(
            text="".join(texts),
            tool_calls=calls,
            usage=_usage_from_dict(usage),
            model=self.model,
            finish_reason=_FINISH.get(stop, stop),
        )


def _usage_from_dict(usage: dict[str, Any]) -> Usage:
    """Anthropic reports uncached input apart from cache reads and writes; ours is their sum."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
