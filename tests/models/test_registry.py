"""Model strings to Model objects: providers, base URLs, custom providers, bad input."""

from __future__ import annotations

import pytest

from cadenza.errors import ConfigurationError, UnknownModelError
from cadenza.models import ModelRequest, ModelResponse, infer_model, infer_models, register_provider, registry
from cadenza.models.anthropic import AnthropicModel
from cadenza.models.offline import OfflineModel
from cadenza.models.openai import OpenAIModel


@pytest.mark.parametrize(
    ("model", "provider", "default_url"),
    [
        ("openai:gpt-4.1-mini", "openai", None),
        ("azure:my-deployment", "azure", None),
        ("ollama:llama3.2", "ollama", "http://localhost:11434/v1"),
        ("ollama:llama3.2:3b", "ollama", "http://localhost:11434/v1"),
        ("vllm:meta-llama/Llama-3.1-8B-Instruct", "vllm", "http://localhost:8000/v1"),
        ("lmstudio:qwen2.5-7b-instruct", "lmstudio", "http://localhost:1234/v1"),
        ("groq:llama-3.3-70b-versatile", "groq", "https://api.groq.com/openai/v1"),
        ("openrouter:anthropic/claude-sonnet-4.5", "openrouter", "https://openrouter.ai/api/v1"),
    ],
)
def test_openai_compatible_strings_build_openai_models(
    model: str, provider: str, default_url: str | None
) -> None:
    built = infer_model(model)

    assert isinstance(built, OpenAIModel)
    assert built.provider == provider
    assert built.name == model  # "provider:model", what prices are looked up by
    assert built.model_name == model.split(":", 1)[1]
    assert registry.resolve_base_url(provider) == default_url


def test_base_url_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://gpu-box:11434/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy/v1")
    assert registry.resolve_base_url("ollama") == "http://gpu-box:11434/v1"
    assert registry.resolve_base_url("openai") == "http://proxy/v1"


def test_anthropic_and_offline_strings() -> None:
    claude = infer_model("anthropic:claude-haiku-4-5")
    assert isinstance(claude, AnthropicModel) and claude.name == "anthropic:claude-haiku-4-5"
    assert isinstance(infer_model("offline"), OfflineModel)


@pytest.mark.parametrize("model", ["nosuch:model", "gpt-4.1-mini", "openai:", ":x", ""])
def test_unknown_or_incomplete_strings_raise_unknown_model_error(model: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        infer_model(model)
    assert caught.value.model == model
    assert "PROVIDER:NAME" in str(caught.value)


def test_objects_that_are_not_models_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="int"):
        infer_model(42)  # type: ignore[arg-type]


def test_an_empty_fallback_list_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        infer_models([])


def test_fallback_list_keeps_order() -> None:
    models = infer_models(["openai:a", "anthropic:b", "offline"])
    assert [m.name for m in models] == ["openai:a", "anthropic:b", "offline"]


def test_openai_model_rejects_an_unknown_provider() -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        OpenAIModel("x", provider="bogus")


class Fixed:
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return f"fixed:{self._name}"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text=self._name)


async def test_registered_provider_builds_from_model_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._custom, "fixed", Fixed)  # undone after the test
    register_provider("fixed", Fixed)

    model = infer_model("fixed:forty-two")

    assert model.name == "fixed:forty-two"
    assert (await model.complete(ModelRequest([]))).text == "forty-two"
    assert "fixed" in registry.known_providers()
