"""Offline support-desk tools for the supervisor example (fixed data, no network)."""

from __future__ import annotations

from cadenza import tool

_ORDERS = {"1042": {"status": "delivered", "carrier": "PostNL", "items": ["espresso machine"]}}
_CHARGES = {
    "1042": [{"amount_eur": 249.0, "date": "2025-03-02"}, {"amount_eur": 249.0, "date": "2025-03-02"}]
}


def _order_id(text: str) -> str:
    return next((word.strip(".,#") for word in text.split() if word.strip(".,#").isdigit()), "")


@tool
def lookup_order(order: str) -> dict[str, object]:
    """Look up an order's delivery status and items by order number.

    Args:
        order: Text containing the order number, e.g. "order 1042".
    """
    order_id = _order_id(order)
    return {"order": order_id, **_ORDERS.get(order_id, {"status": "unknown order"})}


@tool
def list_charges(order: str) -> list[dict[str, object]]:
    """List the card charges made for an order (to spot double charges).

    Args:
        order: Text containing the order number.
    """
    return _CHARGES.get(_order_id(order), [])
