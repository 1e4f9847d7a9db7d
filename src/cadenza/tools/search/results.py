"""Search results: one shape for every backend, merged, de-duplicated, ranked, annotated.

Ranking across backends uses reciprocal-rank fusion (each backend's order counts, not its raw
scores, which are not comparable). Duplicates are found by a normalised URL (scheme, ``www.``,
trailing slash, fragment and tracking parameters ignored). Each result carries a short
reliability note from its domain, a hint for the model, never a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

RRF_K = 60
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src")
_REFERENCE = {
    "wikipedia.org": "encyclopedia: good for background, check its cited sources",
    "arxiv.org": "preprint server: research not yet peer reviewed",
    "nature.com": "peer-reviewed journal",
    "science.org": "peer-reviewed journal",
    "sciencedirect.com": "academic publisher",
    "springer.com": "academic publisher",
    "ncbi.nlm.nih.gov": "biomedical literature database",
    "who.int": "intergovernmental organisation",
    "europa.eu": "official EU source",
    "reuters.com": "news agency",
    "apnews.com": "news agency",
    "bbc.co.uk": "established news outlet",
    "github.com": "code repository: check the project's activity and owner",
    "stackoverflow.com": "community Q&A: check the answer's votes and date",
    "docs.python.org": "official documentation",
}
_USER_CONTENT = (
    "reddit.com",
    "quora.com",
    "medium.com",
    "blogspot.com",
    "wordpress.com",
    "substack.com",
    "tumblr.com",
    "x.com",
    "twitter.com",
    "facebook.com",
    "tiktok.com",
    "pinterest.com",
)


@dataclass(slots=True)
class SearchResult:
    """One result: where it is, what it is called, what it says, and how far to trust it."""

    title: str
    url: str
    snippet: str
    source: str
    rank: int = 0
    score: float = 0.0
    reliability: str = ""
    sources: list[str] = field(default_factory=list)
    published: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in (None, "", [])}


def normalize_url(url: str) -> str:
    """A key under which the same page found twice compares equal."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or ""
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query) if not k.lower().startswith(_TRACKING))
    )
    scheme = "file" if parts.scheme == "file" else "web"
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def reliability_note(url: str, source: str) -> str:
    """A one-line hint about how far to trust a result, from its scheme and domain."""
    parts = urlsplit(url)
    if parts.scheme == "file" or source == "local":
        return "from the local document collection"
    host = (parts.hostname or "").lower().removeprefix("www.")
    notes = []
    for domain, note in _REFERENCE.items():
        if host == domain or host.endswith("." + domain):
            notes.append(note)
            break
    else:
        if host.endswith((".gov", ".gov.uk", ".gouv.fr", ".mil")) or ".gov." in host:
            notes.append("official government source")
        elif host.endswith((".edu", ".ac.uk", ".ac.jp")) or ".edu." in host:
            notes.append("academic institution")
        elif any(host == d or host.endswith("." + d) for d in _USER_CONTENT):
            notes.append("user-generated content: verify before relying on it")
        else:
            notes.append("unverified website: corroborate with another source")
    if parts.scheme == "http":
        notes.append("not served over HTTPS")
    return "; ".join(notes)


def merge(result_lists: Sequence[Sequence[SearchResult]], limit: int) -> list[SearchResult]:
    """Fuse several backends' ranked lists into one: RRF scores, duplicates merged, best first."""
    merged: dict[str, SearchResult] = {}
    for results in result_lists:
        for position, result in enumerate(results, start=1):
            key = normalize_url(result.url)
            contribution = 1.0 / (RRF_K + position)
            existing = merged.get(key)
            if existing is None:
                result.score = contribution
                result.sources = [result.source]
                merged[key] = result
                continue
            existing.score += contribution
            if result.source not in existing.sources:
                existing.sources.append(result.source)
            if len(result.snippet) > len(existing.snippet):
                existing.snippet = result.snippet
    ranked = sorted(merged.values(), key=lambda r: r.score, reverse=True)[:limit]
    for rank, result in enumerate(ranked, start=1):
        result.rank = rank
        result.score = round(result.score, 6)
        result.reliability = result.reliability or reliability_note(result.url, result.source)
        if len(result.sources) > 1:
            result.reliability += f"; found by {len(result.sources)} backends"
    return ranked
