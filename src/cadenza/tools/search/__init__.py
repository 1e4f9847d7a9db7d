"""Web search: pluggable backends (SearXNG, Brave, Tavily, DuckDuckGo, a local corpus) behind one
``web_search`` tool whose results are merged, de-duplicated, ranked and annotated."""

from __future__ import annotations

from cadenza.tools.search.base import HTTPBackend, SearchBackend
from cadenza.tools.search.results import SearchResult, merge, normalize_url, reliability_note
from cadenza.tools.search.tool import backends_from_environment, make_search_tool, search, web_search

__all__ = [
    "HTTPBackend",
    "SearchBackend",
    "SearchResult",
    "backends_from_environment",
    "make_search_tool",
    "merge",
    "normalize_url",
    "reliability_note",
    "search",
    "web_search",
]
