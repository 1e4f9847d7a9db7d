"""Tavily search API: ``POST /search`` with a bearer API key and a JSON body."""

from __future__ import annotations

import os

from cadenza.errors import ConfigurationError
from cadenza.tools.net import NetworkPolicy
from cadenza.tools.search.base import HTTPBackend, require
from cadenza.tools.search.results import SearchResult

TAVILY_URL = "https://api.tavily.com"


class Tavily(HTTPBackend):
    """Web search through Tavily; ``api_key`` defaults to ``$TAVILY_API_KEY``."""

    name = "tavily"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = TAVILY_URL,
        policy: NetworkPolicy | None = None,
        timeout: float = 20.0,
        search_depth: str = "basic",
    ) -> None:
        super().__init__(base_url, policy=policy, timeout=timeout)
        key = api_key or os.environ.get("TAVILY_API_KEY")
        if not key:
            raise ConfigurationError(
                "the Tavily search backend needs an API key: set TAVILY_API_KEY or pass api_key="
            )
        self.api_key = key
        self.search_depth = search_depth

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        data = await self.post_json(
            "/search",
            json={"query": query, "max_results": min(max(limit, 1), 20), "search_depth": self.search_depth},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        items = require(data, self.name, "results")
        return [
            SearchResult(
                title=str(item.get("title") or item["url"]),
                url=str(item["url"]),
                snippet=str(item.get("content") or ""),
                source=self.name,
                published=item.get("published_date"),
            )
            for item in items[:limit]
            if isinstance(item, dict) and item.get("url")
        ]
