"""``OpenAIModel``: every OpenAI-compatible chat endpoint, through the official ``openai`` SDK.

OpenAI itself, Azure OpenAI, Ollama, vLLM, LM Studio, Groq, OpenRouter ... differ only in base
URL and key variable (see ``registry.OPENAI_COMPATIBLE``). The SDK is imported on the first call,
never at ``import cadenza``; its own retries are off because the engine retries (with events and
fallbacks), and every SDK exception becomes a ``ModelError`` here, once.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

from cadenza.errors import ConfigurationError, MissingCredentialsError, ModelResponseError
from cadenza.models._clients import import_sdk, pooled_client
from cadenza.models._errors import translate_error
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.registry import OPENAI_COMPATIBLE, resolve_base_url
from cadenza.types.messages import Message, ToolCall
from cadenza.types.usage import Usage

_SCHEMA_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_PLACEHOLDER_KEY = "not-needed"  # local servers (Ollama, vLLM, LM Studio) ignore the key


class OpenAIModel:
    """A chat model behind an OpenAI-compatible API. ``name`` is ``provider:model``.

    ``base_url`` and ``api_key`` default to the provider's environment variables, read on each
    call's client lookup (so a workflow can be loaded before its keys are set). A missing key
    raises ``MissingCredentialsError`` on the first call, naming the variable. ``timeout`` is
    seconds per request (the SDK's default when ``None``); ``api_version`` is for Azure
    (default ``OPENAI_API_VERSION``).
    """

    def __init__(
        self,
        name: str,
        *,
        provider: str = "openai",
        base_url: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if provider not in OPENAI_COMPATIBLE:
            raise ConfigurationError(
                f"OpenAIModel: unknown provider {provider!r}; expected one of {', '.join(OPENAI_COMPATIBLE)}"
            )
        if not name:
            raise ConfigurationError(f"OpenAIModel: empty model name for provider {provider!r}")
        self.model_name = name
        self.provider = provider
        self.base_url = base_url
        self.api_key = api_key
        self.api_version = api_version
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model_name}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.name!r}, base_url={self.base_url or resolve_base_url(self.provider)!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await import_sdk("openai")
        client = self._client()
        try:
            completion = await client.chat.completions.create(**self._params(request))
            return self._response(completion)
        except Exception as exc:
            raise translate_error(exc, self.name) from exc

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        await import_sdk("openai")
        client = self._client()
        builder = _StreamedResponse(self.name)
        try:
            params = self._params(request)
            chunks = await client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            async with chunks:
                async for chunk in chunks:
                    text = builder.add(chunk)
                    if text:
                        yield text
        except Exception as exc:
            raise translate_error(exc, self.name) from exc
        yield builder.response()

    # -- request -----------------------------------------------------------------------------

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model_name,
            "messages": [_message(m) for m in request.messages],
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        if request.output_schema is not None:
            schema = request.output_schema
            json_schema: dict[str, Any] = {
                "name": _SCHEMA_NAME.sub("_", schema.name)[:64] or "output",
                "schema": schema.json_schema,
                "strict": False,
            }
            if schema.description:
                json_schema["description"] = schema.description
            params["response_format"] = {"type": "json_schema", "json_schema": json_schema}
        if request.max_tokens is not None:
            # OpenAI's own API wants max_completion_tokens (reasoning models reject max_tokens);
            # compatible servers (Ollama, vLLM, ...) know max_tokens.
            key = "max_completion_tokens" if self.provider in {"openai", "azure"} else "max_tokens"
            params[key] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    # -- response ----------------------------------------------------------------------------

    def _response(self, completion: Any) -> ModelResponse:
        if not getattr(completion, "choices", None):
            raise ModelResponseError("the response has no choices", model=self.name, retryable=True)
        choice = completion.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        if refusal and not message.content and not message.tool_calls:
            raise ModelResponseError(f"the model refused: {refusal[:300]}", model=self.name)
        calls = [
            ToolCall(call.id, call.function.name, call.function.arguments or "{}")
            for call in (message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        return ModelResponse(
            text=message.content or "",
            tool_calls=calls,
            usage=_usage(completion.usage),
            model=self.name,
            finish_reason=choice.finish_reason or ("tool_calls" if calls else "stop"),
        )

    # -- client ------------------------------------------------------------------------------

    def _client(self) -> Any:
        """The pooled SDK client for this model's provider, endpoint and key."""
        spec = OPENAI_COMPATIBLE[self.provider]
        base_url = self.base_url or resolve_base_url(self.provider)
        if self.provider == "azure":
            return self._azure_client(base_url)
        api_key = self.api_key or os.environ.get(spec.key_env)
        if not api_key:
            if spec.key_required:
                raise MissingCredentialsError(self.name, spec.key_env)
            api_key = _PLACEHOLDER_KEY
        timeout = self.timeout
        key = (self.provider, base_url, api_key, timeout)

        def build() -> Any:
            import openai

            options: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "max_retries": 0}
            if timeout is not None:
                options["timeout"] = timeout
            return openai.AsyncOpenAI(**options)

        return pooled_client(key, build)

    def _azure_client(self, endpoint: str | None) -> Any:
        api_key = self.api_key or os.environ.get("AZURE_OPENAI_API_KEY")
        ad_token = None if api_key else os.environ.get("AZURE_OPENAI_AD_TOKEN")
        if not api_key and not ad_token:
            raise MissingCredentialsError(self.name, "AZURE_OPENAI_API_KEY")
        if not endpoint:
            raise ConfigurationError(
                f"model {self.name!r} needs the Azure endpoint: set AZURE_OPENAI_ENDPOINT or pass base_url="
            )
        api_version = self.api_version or os.environ.get("OPENAI_API_VERSION")
        if not api_version:
            raise ConfigurationError(
                f"model {self.name!r} needs an Azure API version: set OPENAI_API_VERSION or pass api_version="
            )
        timeout = self.timeout
        key = ("azure", endpoint, api_key or ad_token, api_version, timeout)

        def build() -> Any:
            import openai

            options: dict[str, Any] = {
                "azure_endpoint": endpoint,
                "api_version": api_version,
                "max_retries": 0,
            }
            if api_key:
                options["api_key"] = api_key
            else:
                options["azure_ad_token"] = ad_token
            if timeout is not None:
                options["timeout"] = timeout
            return openai.AsyncAzureOpenAI(**options)

        return pooled_client(key, build)


def _message(message: Message) -> dict[str, Any]:
    """One of our messages in the chat-completions wire format."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _usage(usage: Any) -> Usage:
    """The usage exactly as reported: prompt tokens include the cached ones."""
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=cached or 0,
    )


class _StreamedResponse:
    """Accumulates chat-completion chunks (text, tool-call deltas by index, usage) into a response."""

    __slots__ = ("calls", "finish_reason", "model", "parts", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.calls: dict[int, list[str]] = {}
        self.usage = Usage()
        self.finish_reason: str | None = None

    def add(self, chunk: Any) -> str:
        """Take one chunk in; return its text (possibly empty)."""
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        text = ""
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta.content:
                text += delta.content
            for call in delta.tool_calls or ():
                entry = self.calls.setdefault(call.index, ["", "", ""])
                if call.id:
                    entry[0] = call.id
                function = call.function
                if function is not None:
                    if function.name:
                        entry[1] = function.name
                    entry[2] += function.arguments or ""
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        if text:
            self.parts.append(text)
        return text

    def response(self) -> ModelResponse:
        calls = [
            ToolCall(call_id or f"call_{n}", name, args or "{}")
            for n, (call_id, name, args) in sorted(self.calls.items())
        ]
        if any(not call.name for call in calls):
            raise ModelResponseError(
                "a streamed tool call has no function name", model=self.model, retryable=True
            )
        return ModelResponse(
            text="".join(self.parts),
            tool_calls=calls,
            usage=self.usage,
            model=self.model,
            finish_reason=self.finish_reason or ("tool_calls" if calls else "stop"),
        )
