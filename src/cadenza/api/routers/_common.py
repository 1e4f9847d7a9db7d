"""Helpers every router uses: pagination with a cap."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Query

from cadenza.api.schemas import PAGE_CAP, Page

Limit = Annotated[int, Query(ge=1, le=PAGE_CAP, description=f"Page size (at most {PAGE_CAP}).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]

P = TypeVar("P", bound=Page)


def page(model: type[P], items: list[Any], limit: int, offset: int) -> P:
    """One page of ``items``; ``next_offset`` is set when the page is full (there may be more)."""
    more = len(items) >= limit
    return model.model_validate(
        {"items": items, "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}
    )
