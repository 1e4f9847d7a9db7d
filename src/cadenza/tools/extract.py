"""Main-content extraction from HTML with trafilatura (boilerplate, menus and ads removed).

Shared by ``fetch_url`` and ``read_document``. trafilatura is an optional dependency (the
``tools`` extra) and CPU-bound, so callers run it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cadenza.errors import MissingExtraError


@dataclass(slots=True)
class Extracted:
    """The readable part of a page: its title, main text, and what else the page says about itself."""

    title: str | None
    text: str
    author: str | None = None
    date: str | None = None
    language: str | None = None


def _trafilatura(feature: str) -> Any:
    try:
        import trafilatura
    except ImportError:
        raise MissingExtraError(feature, "tools", "trafilatura") from None
    return trafilatura


def extract_html(html: str | bytes, url: str | None = None, *, feature: str = "HTML extraction") -> Extracted:
    """The main content of an HTML page as plain text; falls back to all visible text when the
    page is too small or unusual for main-content detection."""
    trafilatura = _trafilatura(feature)
    document = trafilatura.bare_extraction(
        html,
        url=url,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
        with_metadata=True,
        # only dates the page states in its markup, not years guessed from the text
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if not text:
        text = (trafilatura.html2txt(html) or "").strip()
    if document is None:
        return Extracted(title=_title_only(trafilatura, html), text=text)
    return Extracted(
        title=getattr(document, "title", None),
        text=text,
        author=getattr(document, "author", None),
        date=getattr(document, "date", None),
        language=getattr(document, "language", None),
    )


def _title_only(trafilatura: Any, html: str | bytes) -> str | None:
    metadata = trafilatura.extract_metadata(html)
    return getattr(metadata, "title", None) if metadata is not None else None
