"""Turn a model string (``provider:name``) into a Model, importing provider SDKs only when used.

Every OpenAI-compatible endpoint is the ``openai`` provider with another base URL and key
variable, so ``ollama:llama3.2`` or ``groq:llama-3.3-70b`` need no code of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cadenza.errors import ConfigurationError, UnknownModelError
from cadenza.models.base import Model


@dataclass(frozen=True, slots=True)
class OpenAICompatible:
    """An OpenAI-compatible endpoint: where it is and which variable holds its key."""

    base_url: str | None
    base_url_env: str | None
    key_env: str
    key_required: bool = True


OPENAI_COMPATIBLE: dict[str, OpenAICompatible] = {
    "openai": OpenAICompatible(None, "OPENAI_BASE_URL", "OPENAI_API_KEY"),
    "azure": OpenAICompatible(None, "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"),
    "ollama": OpenAICompatible("http://localhost:11434/v1", "OLLAMA_BASE_URL", "OLLAMA_API_KEY", False),
    "vllm": OpenAICompatible("http://localhost:8000/v1", "VLLM_BASE_URL", "VLLM_API_KEY", False),
    "lmstudio": OpenAICompatible("http://localhost:1234/v1", "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY", False),
    "groq": OpenAICompatible("https://api.groq.com/openai/v1", "GROQ_BASE_URL", "GROQ_API_KEY"),
    "openrouter": OpenAICompatible(
        "https://openrouter.ai/api/v1", "OPENROUTER_BASE_URL", "OPENROUTER_API_KEY"
    ),
}

_custom: dict[str, Callable[[str], Model]] = {}


def register_provider(prefix: str, factory: Callable[[str], Model]) -> None:
    """Make ``prefix:NAME`` model strings build models with ``factory(NAME)``."""
    _custom[prefix] = factory


def known_providers() -> list[str]:
    return sorted({"offline", "anthropic", *OPENAI_COMPATIBLE, *_custom})


def resolve_base_url(provider: str) -> str | None:
    """The base URL for an OpenAI-compatible provider: its variable if set, else its default."""
    spec = OPENAI_COMPATIBLE[provider]
    if spec.base_url_env and os.environ.get(spec.base_url_env):
        return os.environ[spec.base_url_env]
    return spec.base_url


def infer_model(model: str | Model) -> Model:
    """The Model for a model string, or the object itself when it already is one."""
    if not isinstance(model, str):
        if isinstance(model, Model):
            return model
        raise ConfigurationError(
            f"model must be a 'provider:name' string or an object with .name and async .complete(); "
            f"got {type(model).__name__}"
        )
    if model == "offline" or model.startswith("offline:"):
        from cadenza.models.offline import OfflineModel

        return OfflineModel()
    provider, sep, name = model.partition(":")
    if not sep or not name:
        raise UnknownModelError(model, known_providers())
    if provider in _custom:
        return _custom[provider](name)
    if provider in OPENAI_COMPATIBLE:
        from cadenza.models.openai import OpenAIModel

        return OpenAIModel(name, provider=provider)
    if provider == "anthropic":
        from cadenza.models.anthropic import AnthropicModel

        return AnthropicModel(name)
    raise UnknownModelError(model, known_providers())


def infer_models(model: str | Model | Sequence[str | Model]) -> list[Model]:
    """An agent's ordered fallback list: one model, or several tried in order."""
    if isinstance(model, str) or not isinstance(model, Sequence):
        return [infer_model(model)]
    if not model:
        raise ConfigurationError("an agent's model list is empty: give at least one model")
    return [infer_model(m) for m in model]
