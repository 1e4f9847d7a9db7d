"""Brave Search API: ``GET /res/v1/web/search`` with an ``X-Subscription-Token`` header."""

from __future__ import annotations

import html
import os
import re

from cadenza.errors import ConfigurationError
from cadenza.tools.net import NetworkPolicy
from cadenza.tools.search.base import HTTPBackend, require
from cadenza.tools.search.results import SearchResult

BRAVE_URL = "https://api.search.brave.com"
_TAG = re.compile(r"<[^>]+>")


def strip_tags(text: str) -> str:
    """Snippets from search APIs carry highlighting markup (``<strong>``); the model needs text."""
    return html.unescape(_TAG.sub("", text))


class Brave(HTTPBackend):
    """Web search through Brave; ``api_key`` defaults to ``$BRAVE_API_KEY``."""

    name = "brave"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = BRAVE_URL,
        policy: NetworkPolicy | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(base_url, policy=policy, timeout=timeout)
        key = api_key or os.environ.get("BRAVE_API_KEY")
        if not key:
            raise ConfigurationError(
                "the Brave search backend needs an API key: set BRAVE_API_KEY or pass api_key="
            )
        self.api_key = key

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        data = await self.get_json(
            "/res/v1/web/search",
            params={"q": query, "count": min(max(limit, 1), 20)},
            headers={"Accept": "application/json", "X-Subscription-Token": self.api_key},
        )
        if "web" not in data:  # a query with no web results has no "web" section at all
            require(data, self.name, "query")
            return []
        items = require(data, self.name, "web", "results")
        return [
            SearchResult(
                title=strip_tags(str(item.get("title") or item["url"])),
                url=str(item["url"]),
                snippet=strip_tags(str(item.get("description") or "")),
                source=self.name,
                published=item.get("page_age") or item.get("age"),
            )
            for item in items[:limit]
            if isinstance(item, dict) and item.get("url")
        ]
