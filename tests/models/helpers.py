"""Small helpers shared by the provider tests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from tests.fakes.llm_server import FakeLLMServer

from cadenza import Agent, RetryPolicy, tool
from cadenza.models.anthropic import AnthropicModel
from cadenza.models.openai import OpenAIModel
from cadenza.types.events import Event

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=1.0)


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


class City(BaseModel):
    name: str
    population: int


def openai_model(server: FakeLLMServer, name: str = "gpt-4.1-mini", **options: Any) -> OpenAIModel:
    return OpenAIModel(name, base_url=server.openai_url, api_key="sk-test", **options)


def anthropic_model(server: FakeLLMServer, name: str = "claude-sonnet-4-6", **options: Any) -> AnthropicModel:
    return AnthropicModel(name, base_url=server.url, api_key="sk-ant-test", **options)


def model_for(api: str, server: FakeLLMServer, **options: Any) -> OpenAIModel | AnthropicModel:
    return openai_model(server, **options) if api == "openai" else anthropic_model(server, **options)


def agent(model: Any, **options: Any) -> Agent:
    options.setdefault("retry", FAST)
    return Agent("assistant", model=model, **options)


def of_type(events: list[Event], kind: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]
