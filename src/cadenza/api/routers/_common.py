"""Helpers every router uses: pagination with a cap."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from cadenza.api.schemas import PAGE_CAP

Limit = Annotated[int, Query(ge=1, le=PAGE_CAP, description=f"Page size (at most {PAGE_CAP}).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def next_offset(offset: int, limit: int, count: int) -> int | None:
    return offset + limit if count >= limit else None
