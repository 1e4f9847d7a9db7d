"""The ``web_search`` tool: ask one or more backends, merge, de-duplicate, rank, annotate."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from cadenza.errors import SearchError, ToolError
from cadenza.tools.base import Tool
from cadenza.tools.search.base import SearchBackend
from cadenza.tools.search.results import merge

TOOL_NAME = "web_search"


def backends_from_environment() -> list[SearchBackend]:
    """Backends configured by environment: ``SEARXNG_URL``, ``BRAVE_API_KEY``, ``TAVILY_API_KEY``,
    ``CADENZA_SEARCH_CORPUS`` (a folder); DuckDuckGo when none is set (it needs no key)."""
    backends: list[SearchBackend] = []
    if os.environ.get("SEARXNG_URL"):
        from cadenza.tools.net import NetworkPolicy
        from cadenza.tools.search.searxng import SearXNG

        # A self-hosted instance is usually on a private network: the operator configured it.
        policy = NetworkPolicy(allow_private=True, allow_loopback=True)
        backends.append(SearXNG(os.environ["SEARXNG_URL"], policy=policy))
    if os.environ.get("BRAVE_API_KEY"):
        from cadenza.tools.search.brave import Brave

        backends.append(Brave())
    if os.environ.get("TAVILY_API_KEY"):
        from cadenza.tools.search.tavily import Tavily

        backends.append(Tavily())
    if os.environ.get("CADENZA_SEARCH_CORPUS"):
        from cadenza.tools.search.local import LocalCorpus

        backends.append(LocalCorpus(os.environ["CADENZA_SEARCH_CORPUS"]))
    if not backends:
        from cadenza.tools.search.duckduckgo import DuckDuckGo

        backends.append(DuckDuckGo())
    return backends


async def search(backends: Sequence[SearchBackend], query: str, max_results: int = 5) -> dict[str, Any]:
    """Query every backend at once; a failed backend is reported, the others' results kept.

    Raises the failure when every backend failed.
    """
    if not query.strip():
        raise ToolError(TOOL_NAME, "the query is empty")
    outcomes = await asyncio.gather(*(b.search(query, max_results) for b in backends), return_exceptions=True)
    lists = []
    warnings = []
    for backend, outcome in zip(backends, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            if len(backends) == 1:
                raise _as_tool_error(backend, outcome)
            warnings.append(str(_as_tool_error(backend, outcome).detail))
            continue
        lists.append(outcome)
    if not lists:
        raise SearchError("all backends", "; ".join(warnings))
    results = merge(lists, max_results)
    answer: dict[str, Any] = {"query": query, "results": [r.to_dict() for r in results]}
    if warnings:
        answer["warnings"] = warnings
    return answer


def _as_tool_error(backend: SearchBackend, exc: Exception) -> ToolError:
    if isinstance(exc, ToolError):
        return exc
    return SearchError(backend.name, f"{type(exc).__name__}: {exc}")


def make_search_tool(
    backends: Sequence[SearchBackend] | None = None,
    *,
    name: str = TOOL_NAME,
    max_results: int = 5,
    description: str | None = None,
) -> Tool[..., Any]:
    """A ``web_search`` tool over ``backends`` (by default those the environment configures).

    ``description`` replaces what the model is told the tool searches (e.g. "the team's market
    research library"), which helps a model pick it for a corpus of its own documents.
    """
    chosen: list[SearchBackend] | None = list(backends) if backends is not None else None
    cap = max_results

    async def web_search(query: str, max_results: int = cap) -> dict[str, Any]:
        """Search the web and return ranked results with title, URL, snippet and a reliability note.

        Args:
            query: what to search for, in plain words.
            max_results: how many results to return (1 to 20).
        """
        nonlocal chosen
        if chosen is None:
            chosen = backends_from_environment()
        return await search(chosen, query, min(max(max_results, 1), 20))

    return Tool(web_search, name=name, description=description, timeout=30.0)


web_search = make_search_tool()
