"""SearXNG, the self-hosted metasearch engine: ``GET /search?q=...&format=json``.

The instance must have the ``json`` output format enabled (``search.formats`` in its
settings.yml); without it SearXNG answers 403. Self-hosted usually means a private address, so
pass a ``NetworkPolicy`` that allows it.
"""

from __future__ import annotations

from typing import Any

from cadenza.tools.net import NetworkPolicy
from cadenza.tools.search.base import HTTPBackend, require
from cadenza.tools.search.results import SearchResult


class SearXNG(HTTPBackend):
    """Search through a SearXNG instance at ``base_url``."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        *,
        policy: NetworkPolicy | None = None,
        timeout: float = 15.0,
        categories: str = "general",
        language: str | None = None,
    ) -> None:
        super().__init__(base_url, policy=policy, timeout=timeout)
        self.categories = categories
        self.language = language

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        params: dict[str, Any] = {"q": query, "format": "json", "categories": self.categories}
        if self.language:
            params["language"] = self.language
        data = await self.get_json("/search", params=params)
        items = require(data, self.name, "results")
        return [
            SearchResult(
                title=str(item.get("title") or item.get("url")),
                url=str(item["url"]),
                snippet=str(item.get("content") or ""),
                source=self.name,
                published=item.get("publishedDate"),
            )
            for item in items[:limit]
            if isinstance(item, dict) and item.get("url")
        ]
