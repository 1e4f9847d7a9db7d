"""``fetch_url``: fetch a web page and return its main content as text, safely.

Safe means: only http and https; every connection vetted by the SSRF guard (``net.py``), after
DNS resolution and on every redirect hop; a time limit for the whole fetch; a size limit
enforced while downloading (not after); only textual content types. A failure raises
``SSRFError`` or ``FetchError`` (both ``ToolError``), which a run hands back to the model.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from cadenza.errors import FetchError, SSRFError
from cadenza.tools.base import Tool
from cadenza.tools.net import AddressRefused, NetworkPolicy, pooled_guarded_client

if TYPE_CHECKING:
    import httpx2

TOOL_NAME = "fetch_url"
USER_AGENT = "cadenza-fetch/0.1 (+https://github.com/cadenza)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML = ("text/html", "application/xhtml+xml")
_TEXT = ("text/plain", "text/markdown", "text/csv", "application/json", "text/xml", "application/xml")


@dataclass(frozen=True)
class FetchSettings:
    """Limits and network policy for fetching. The defaults suit pages on the public web."""

    policy: NetworkPolicy = field(default_factory=NetworkPolicy)
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    max_chars: int = 20_000
    user_agent: str = USER_AGENT


@dataclass(slots=True)
class FetchedPage:
    """A fetched page: where it ended up, what it was, and its readable text."""

    url: str
    final_url: str
    status: int
    content_type: str
    title: str | None
    text: str
    size: int
    redirects: list[str]

    def render(self, max_chars: int) -> str:
        """The page as the model reads it: a short header, then the text within ``max_chars``."""
        header = [f"URL: {self.final_url}"]
        if self.title:
            header.insert(0, f"Title: {self.title}")
        text = self.text
        if len(text) > max_chars:
            text = f"{text[:max_chars]}\n[truncated: {len(self.text) - max_chars} more characters]"
        return "\n".join(header) + "\n\n" + text


@dataclass(slots=True)
class Download:
    """The raw body of a fetched URL, within the limits, after the redirects."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    encoding: str | None
    redirects: list[str]


TextOrHTML = _HTML + _TEXT


async def download(
    url: str,
    settings: FetchSettings | None = None,
    *,
    tool: str = TOOL_NAME,
    content_types: tuple[str, ...] = TextOrHTML,
) -> Download:
    """Fetch ``url``'s body safely; ``content_types`` are the prefixes accepted (an empty
    ``Content-Type`` is accepted too). Raises ``SSRFError`` / ``FetchError``."""
    settings = settings or FetchSettings()
    try:
        async with asyncio.timeout(settings.timeout):
            return await _download(url, settings, tool, content_types)
    except TimeoutError:
        raise FetchError(tool, url, f"timed out after {settings.timeout} s") from None


async def fetch_page(
    url: str, settings: FetchSettings | None = None, *, tool: str = TOOL_NAME
) -> FetchedPage:
    """Fetch ``url`` under ``settings`` and extract its text; raises ``SSRFError`` / ``FetchError``."""
    got = await download(url, settings, tool=tool)
    raw = got.body
    if got.content_type.startswith(_HTML) or (not got.content_type and raw.lstrip()[:1] == b"<"):
        from cadenza.tools.extract import extract_html

        page = await asyncio.to_thread(extract_html, raw, got.final_url, feature=tool)
        title, text = page.title, page.text
    else:
        title, text = None, raw.decode(got.encoding or "utf-8", errors="replace")
    return FetchedPage(url, got.final_url, got.status, got.content_type, title, text, len(raw), got.redirects)


async def _download(url: str, settings: FetchSettings, tool: str, content_types: tuple[str, ...]) -> Download:
    import httpx2

    client = pooled_guarded_client(settings.policy, settings.timeout, settings.user_agent)
    current = _checked_url(url, url, tool)
    redirects: list[str] = []
    while True:
        try:
            async with client.stream("GET", current) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    if len(redirects) >= settings.max_redirects:
                        raise FetchError(tool, url, f"more than {settings.max_redirects} redirects")
                    redirects.append(current)
                    current = _checked_url(url, urljoin(current, response.headers["location"]), tool)
                    continue
                return await _read(url, current, response, redirects, settings, tool, content_types)
        except AddressRefused as refused:
            raise SSRFError(tool, current, refused.address, refused.reason) from None
        except httpx2.TimeoutException:
            raise FetchError(tool, current, f"timed out after {settings.timeout} s") from None
        except httpx2.HTTPError as exc:
            raise FetchError(tool, current, f"{type(exc).__name__}: {exc}") from None


def _checked_url(original: str, url: str, tool: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(tool, original, f"only http and https URLs can be fetched, not {url!r}")
    if not parts.hostname:
        raise FetchError(tool, original, f"{url!r} has no host")
    if parts.username or parts.password:
        raise FetchError(tool, original, "URLs with credentials are not fetched")
    return url


async def _read(
    url: str,
    final: str,
    response: httpx2.Response,
    redirects: list[str],
    settings: FetchSettings,
    tool: str,
    content_types: tuple[str, ...],
) -> Download:
    if response.status_code >= 400:
        raise FetchError(
            tool, final, f"HTTP {response.status_code} {response.reason_phrase}", response.status_code
        )
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not content_type.startswith(content_types):
        what = "text or HTML" if content_types == TextOrHTML else "a supported type"
        raise FetchError(tool, final, f"content type {content_type!r} is not {what}", response.status_code)
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        raise FetchError(tool, final, f"{declared} bytes is over the {settings.max_bytes}-byte limit")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > settings.max_bytes:
            raise FetchError(tool, final, f"more than the {settings.max_bytes}-byte limit")
    return Download(url, final, response.status_code, content_type, bytes(body), response.encoding, redirects)


def make_fetch_tool(settings: FetchSettings | None = None, *, name: str = TOOL_NAME) -> Tool[..., Any]:
    """A ``fetch_url`` tool with its own limits and network policy (e.g. allowing an intranet)."""
    config = settings or FetchSettings()

    async def fetch_url(url: str) -> str:
        """Fetch a web page and return its title and main text (no menus, ads or markup).

        Args:
            url: the http or https address of the page.
        """
        page = await fetch_page(url, config, tool=name)
        return page.render(config.max_chars)

    return Tool(fetch_url, name=name, timeout=config.timeout + 5, max_output_chars=config.max_chars + 500)


fetch_url = make_fetch_tool()
