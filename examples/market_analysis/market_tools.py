"""Offline market data tools for the market-analysis example.

The figures are illustrative and fixed, so the example runs the same everywhere without a
network. Swap these functions for real data sources (an API, a database) and the workflow file
stays the same.
"""

from __future__ import annotations

from cadenza import tool

_SEGMENTS = {
    "cargo": ("electric cargo bikes", 1.9, 0.18),
    "bike": ("e-bikes", 21.4, 0.09),
    "coffee": ("specialty coffee", 45.0, 0.07),
    "solar": ("residential solar", 38.2, 0.12),
}


def _segment(market: str) -> tuple[str, float, float]:
    lowered = market.lower()
    for key, values in _SEGMENTS.items():
        if key in lowered:
            return values
    return (market.strip()[:60] or "the market", 5.0, 0.06)


@tool
def market_size(market: str) -> dict[str, object]:
    """Look up the estimated market size and annual growth of a market (illustrative figures).

    Args:
        market: The market to size, e.g. "electric cargo bikes in Europe".
    """
    name, size_bn, growth = _segment(market)
    return {
        "market": name,
        "size_eur_bn_2025": size_bn,
        "cagr_2025_2030": f"{growth:.0%}",
        "size_eur_bn_2030": round(size_bn * (1 + growth) ** 5, 1),
        "source": "illustrative offline dataset",
    }


@tool
def competitor_profiles(market: str) -> list[dict[str, object]]:
    """List the leading competitors of a market with their share and positioning (illustrative).

    Args:
        market: The market whose competitors to profile.
    """
    name, _, _ = _segment(market)
    return [
        {"company": "Northwind Mobility", "share": "22%", "position": f"premium {name}, dealer network"},
        {"company": "Contoso Cycles", "share": "15%", "position": "direct-to-consumer, low price"},
        {"company": "Fabrikam Fleet", "share": "9%", "position": "B2B fleets with service contracts"},
    ]


def cites_figures(output: object) -> bool | str:
    """Gate: research must quote at least one figure (a number), or say what is missing."""
    text = str(output)
    if any(ch.isdigit() for ch in text):
        return True
    return "the research quotes no figures: add market size, growth or shares"
