"""Prices: the genai-prices list, exactly, in Decimal; overrides; free and unknown models."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

import genai_prices
import pytest

from cadenza.models.pricing import clear_price_overrides, cost_of, set_price
from cadenza.types.usage import Usage


@pytest.fixture(autouse=True)
def _no_overrides() -> Iterator[None]:
    clear_price_overrides()
    yield
    clear_price_overrides()


def listed(model: str, provider: str, usage: Usage) -> Decimal:
    return genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens or None,
            cache_write_tokens=usage.cache_write_tokens or None,
        ),
        model_ref=model,
        provider_id=provider,
    ).total_price


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4.1-mini", "openai"),
        ("gpt-4.1", "openai"),
        ("claude-sonnet-4-6", "anthropic"),
        ("claude-haiku-4-5", "anthropic"),
    ],
)
def test_cost_is_exactly_the_list_price(model: str, provider: str) -> None:
    usage = Usage(input_tokens=123_456, output_tokens=7_890, cache_read_tokens=100_000)
    if provider == "anthropic":
        usage.cache_write_tokens = 3_000

    cost = cost_of(f"{provider}:{model}", usage)

    assert isinstance(cost, Decimal)
    assert cost == listed(model, provider, usage)
    assert cost > 0


def test_cached_tokens_are_cheaper_than_uncached() -> None:
    uncached = cost_of("openai:gpt-4.1-mini", Usage(input_tokens=10_000, output_tokens=10))
    cached = cost_of(
        "openai:gpt-4.1-mini", Usage(input_tokens=10_000, output_tokens=10, cache_read_tokens=8_000)
    )
    assert cached < uncached


def test_azure_deployments_named_like_the_model_use_openai_prices() -> None:
    usage = Usage(input_tokens=5_000, output_tokens=500)
    assert cost_of("azure:gpt-4.1-mini", usage) == cost_of("openai:gpt-4.1-mini", usage)


def test_costs_add_up_exactly_over_many_calls() -> None:
    usage = Usage(input_tokens=333, output_tokens=77)
    one = cost_of("openai:gpt-4.1-mini", usage)
    total = sum((cost_of("openai:gpt-4.1-mini", usage) for _ in range(1_000)), Decimal(0))
    assert total == one * 1_000


def test_an_override_wins_over_the_list() -> None:
    set_price("openai:gpt-4.1-mini", input_per_mtok="1", output_per_mtok="2", cache_read_per_mtok="0.25")
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=400_000)
    # 600k uncached at $1 + 400k cached at $0.25 + 500k out at $2
    assert cost_of("openai:gpt-4.1-mini", usage) == Decimal("0.6") + Decimal("0.1") + Decimal("1")


@pytest.mark.parametrize(
    "model", ["offline", "function:fn", "ollama:llama3.2", "vllm:gpt-4.1-mini", "lmstudio:qwen"]
)
def test_offline_and_self_hosted_models_are_free(model: str) -> None:
    assert cost_of(model, Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 0


def test_self_hosted_models_can_be_given_a_price() -> None:
    set_price("ollama:llama3.2", input_per_mtok="0.1", output_per_mtok="0.1")
    assert cost_of("ollama:llama3.2", Usage(input_tokens=1_000_000)) == Decimal("0.1")


def test_unknown_model_costs_zero_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cadenza.pricing"):
        assert cost_of("openai:not-a-real-model-xyz", Usage(input_tokens=10)) == 0
        assert cost_of("openai:not-a-real-model-xyz", Usage(input_tokens=10)) == 0
    assert caplog.text.count("not-a-real-model-xyz") == 1
