"""The local corpus backend: full-text search over a folder of documents, offline.

The folder's files are read (text, Markdown and HTML always; PDF, DOCX, XLSX and PPTX through
``read_document`` when the ``tools`` extra is installed), split into passages and indexed in a
``TextIndex``: SQLite FTS5 in a file by default, PostgreSQL full-text search when ``index_url``
is a PostgreSQL URL. Changed and deleted files are re-indexed on the next search, judged by
modification time and size.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cadenza.errors import ConfigurationError, SearchError
from cadenza.memory.index import Entry, TextIndex
from cadenza.tools.search.results import SearchResult

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".html", ".htm"})
RICH_SUFFIXES = frozenset({".pdf", ".docx", ".xlsx", ".pptx"})
PASSAGE_CHARS = 1500


@dataclass(slots=True)
class _Document:
    path: Path
    title: str
    text: str


class LocalCorpus:
    """Search the documents under ``folder``; the index lives at ``index_url`` (a file by default)."""

    name = "local"

    def __init__(self, folder: str | Path, *, index_url: str | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            raise ConfigurationError(f"the local search corpus {str(self.folder)!r} is not a folder")
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:16]
        self.namespace = f"corpus:{digest}"
        self.index_url = index_url or str(_default_index_dir() / f"corpus-{digest}.db")
        self._index: TextIndex | None = None
        self._lock = asyncio.Lock()

    async def index(self) -> TextIndex:
        if self._index is None:
            self._index = await TextIndex.open(self.index_url)
        return self._index

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()
            self._index = None

    async def refresh(self) -> int:
        """Bring the index up to date with the folder; returns how many files were (re)indexed."""
        async with self._lock:
            index = await self.index()
            manifest_ns = f"{self.namespace}:files"
            known = {e.key: e.text for e in await index.all(manifest_ns)}
            present = {str(p.relative_to(self.folder)): p for p in _files(self.folder)}
            changed = 0
            for relative, path in sorted(present.items()):
                stat = path.stat()
                signature = f"{stat.st_mtime_ns}:{stat.st_size}"
                if known.get(relative) == signature:
                    continue
                await index.delete_prefix(self.namespace, relative + "#")
                document = await asyncio.to_thread(_read, path)
                if document is not None:
                    await index.put_many(_passages(self.namespace, relative, document, stat.st_mtime))
                await index.put(Entry(manifest_ns, relative, signature))
                changed += 1
            for relative in set(known) - set(present):
                await index.delete_prefix(self.namespace, relative + "#")
                await index.delete(manifest_ns, relative)
                changed += 1
            return changed

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        try:
            await self.refresh()
            hits = await (await self.index()).search([self.namespace], query, limit * 3)
        except SearchError:
            raise
        except Exception as exc:
            raise SearchError(self.name, f"{type(exc).__name__}: {exc}") from exc
        results = []
        for hit in hits:
            path = self.folder / hit.entry.meta["path"]
            results.append(
                SearchResult(
                    title=hit.entry.title,
                    url=path.as_uri() + f"#passage-{hit.entry.meta['passage']}",
                    snippet=hit.snippet,
                    source=self.name,
                    published=datetime.fromtimestamp(hit.entry.created_at, UTC).date().isoformat(),
                )
            )
        return results


def _default_index_dir() -> Path:
    from cadenza.store.url import data_dir

    return data_dir() / "corpus"


def _files(folder: Path) -> list[Path]:
    suffixes = TEXT_SUFFIXES | RICH_SUFFIXES
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes and not any(part.startswith(".") for part in p.parts)
    ]


def _read(path: Path) -> _Document | None:
    """A file's title and text; unreadable files are skipped rather than failing the search."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".html", ".htm"):
            from cadenza.tools.extract import extract_html

            page = extract_html(path.read_bytes(), path.as_uri())
            return _Document(path, page.title or _title(page.text, path), page.text)
        if suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            return _Document(path, _title(text, path), text)
        from cadenza.tools.documents import load_document

        document = load_document(path)
        return _Document(path, document.title or path.stem, document.text)
    except Exception:
        return None


def _title(text: str, path: Path) -> str:
    for line in text.splitlines()[:10]:
        heading = re.match(r"^#{1,3}\s+(.+)", line.strip())
        if heading:
            return heading.group(1).strip()
    return path.stem.replace("_", " ").replace("-", " ")


def _passages(namespace: str, relative: str, document: _Document, mtime: float) -> list[Entry]:
    """Split a document into passages of about ``PASSAGE_CHARS`` on paragraph boundaries."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", document.text) if p.strip()]
    passages: list[str] = []
    current = ""
    for paragraph in paragraphs:
        if current and len(current) + len(paragraph) > PASSAGE_CHARS:
            passages.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        passages.append(current)
    meta: dict[str, Any] = {"path": relative}
    return [
        Entry(namespace, f"{relative}#{n}", text, document.title, {**meta, "passage": n}, mtime)
        for n, text in enumerate(passages, start=1)
    ]
