"""DuckDuckGo through its no-JavaScript HTML endpoint (``POST /html/``); no API key needed.

DuckDuckGo offers no JSON web-search API, so the result page is parsed: each organic result is
an ``a.result__a`` link (through a ``/l/?uddg=<url>`` redirect) and an ``.result__snippet``; ads
(``.result--ad``) are skipped. When DuckDuckGo answers with its bot check instead of results,
the error says so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from cadenza.errors import MissingExtraError, SearchError
from cadenza.tools.net import NetworkPolicy
from cadenza.tools.search.base import HTTPBackend
from cadenza.tools.search.results import SearchResult

DUCKDUCKGO_URL = "https://html.duckduckgo.com"


class DuckDuckGo(HTTPBackend):
    """Web search through DuckDuckGo's HTML results page."""

    name = "duckduckgo"

    def __init__(
        self,
        *,
        base_url: str = DUCKDUCKGO_URL,
        policy: NetworkPolicy | None = None,
        timeout: float = 15.0,
        region: str = "wt-wt",
    ) -> None:
        super().__init__(base_url, policy=policy, timeout=timeout)
        self.region = region

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        response = await self.request("POST", "/html/", data={"q": query, "kl": self.region})
        if response.status_code == 202 or "anomaly" in response.text[:5000]:
            raise SearchError(self.name, "DuckDuckGo answered with a bot check instead of results")
        return parse_results(response.text, self.base_url, limit)


def parse_results(page: str, base_url: str, limit: int) -> list[SearchResult]:
    """The organic results of a DuckDuckGo HTML results page."""
    try:
        import lxml.html  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtraError("the DuckDuckGo search backend", "tools", "lxml") from None
    if not page.strip():
        return []
    tree = lxml.html.fromstring(page)
    results: list[SearchResult] = []
    for node in tree.xpath('//div[contains(concat(" ", normalize-space(@class), " "), " result ")]'):
        classes = node.get("class", "")
        if "result--ad" in classes:
            continue
        links = node.xpath('.//a[contains(@class, "result__a")]')
        if not links:
            continue
        url = _target(links[0].get("href", ""), base_url)
        if not url:
            continue
        snippets = node.xpath('.//*[contains(@class, "result__snippet")]')
        results.append(
            SearchResult(
                title=_text(links[0]),
                url=url,
                snippet=_text(snippets[0]) if snippets else "",
                source="duckduckgo",
            )
        )
        if len(results) >= limit:
            break
    return results


def _target(href: str, base_url: str) -> str:
    """The real URL behind DuckDuckGo's ``/l/?uddg=`` redirect link."""
    absolute = urljoin(base_url + "/", href)
    parts = urlsplit(absolute)
    if parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg", [""])[0]
        return target if target.startswith(("http://", "https://")) else ""
    return absolute if parts.scheme in ("http", "https") else ""


def _text(node: Any) -> str:
    return " ".join(node.text_content().split())
