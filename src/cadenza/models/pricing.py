"""What a model call costs, from the genai-prices price list, overridable per model.

Costs are ``Decimal`` so that adding up thousands of calls stays exact. The price list package is
imported on the first priced call of a real provider, never at ``import cadenza``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from cadenza.types.usage import Usage

log = logging.getLogger("cadenza.pricing")

ZERO = Decimal(0)
_PER_TOKEN = Decimal(1_000_000)
# Offline and function models cost nothing; self-hosted endpoints (Ollama, vLLM, LM Studio) have
# no token price either, and must not pick up a cloud price for a model of the same name.
# set_price() still wins for any of them.
FREE_PROVIDERS = frozenset({"offline", "function", "ollama", "vllm", "lmstudio"})


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. Cache rates default to the input rate when not given."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        cache_read = self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok
        cache_write = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        total = (
            max(uncached, 0) * self.input_per_mtok
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + usage.output_tokens * self.output_per_mtok
        )
        return total / _PER_TOKEN


_overrides: dict[str, Price] = {}
_unknown_warned: set[str] = set()


def set_price(
    model: str,
    *,
    input_per_mtok: float | str | Decimal,
    output_per_mtok: float | str | Decimal,
    cache_read_per_mtok: float | str | Decimal | None = None,
    cache_write_per_mtok: float | str | Decimal | None = None,
) -> None:
    """Override (or add) the price of ``provider:name``; wins over the price list."""

    def dec(v: float | str | Decimal | None) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    _overrides[model] = Price(
        Decimal(str(input_per_mtok)),
        Decimal(str(output_per_mtok)),
        dec(cache_read_per_mtok),
        dec(cache_write_per_mtok),
    )


def clear_price_overrides() -> None:
    _overrides.clear()


# Prices that hold only for one run (a workflow file's ``prices:``): a context variable, so two
# workflows with different prices can run at once in one process (the API) without interfering.
_scoped: ContextVar[Mapping[str, Price] | None] = ContextVar("cadenza_scoped_prices", default=None)


@contextmanager
def price_scope(prices: Mapping[str, Price]) -> Iterator[None]:
    """Inside this block (and the tasks started in it) ``prices`` win over every other price."""
    outer = _scoped.get()
    token = _scoped.set({**(outer or {}), **prices})
    try:
        yield
    finally:
        _scoped.reset(token)


def cost_of(model: str, usage: Usage) -> Decimal:
    """The USD cost of ``usage`` on ``model`` (``provider:name``); zero for offline models.

    An unknown model costs zero and is logged once, so a run never fails for want of a price.
    """
    scoped = _scoped.get()
    override = (scoped.get(model) if scoped else None) or _overrides.get(model)
    if override is not None:
        return override.cost(usage)
    provider, _, name = model.partition(":")
    if provider in FREE_PROVIDERS or not name:
        return ZERO
    return _list_price(provider, name, usage)


def _list_price(provider: str, name: str, usage: Usage) -> Decimal:
    import genai_prices

    provider_id = "openai" if provider in {"openai", "azure"} else provider
    list_usage = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
    )
    try:
        price = genai_prices.calc_price(list_usage, model_ref=name, provider_id=provider_id)
    except LookupError:
        try:
            price = genai_prices.calc_price(list_usage, model_ref=name)
        except LookupError:
            key = f"{provider}:{name}"
            if key not in _unknown_warned:
                _unknown_warned.add(key)
                log.warning("no price known for %s: its calls are counted at $0 (set_price to fix)", key)
            return ZERO
    return Decimal(price.total_price)
