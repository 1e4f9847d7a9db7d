"""Long-term memory: what an agent keeps across runs and restarts, scoped and searchable.

Entries live in a ``TextIndex`` (SQLite FTS5 or PostgreSQL full-text search) under namespaces
``<scope>/<kind>``: the scope says whose memory it is (``agent:writer``, ``user:42``,
``workflow:report``), the kind what it is (``fact``, ``lesson``, ``note``). Recall is full-text
search, fused with embedding similarity when an ``Embedder`` is configured. Remembering the same
text twice in a scope refreshes it instead of storing a copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cadenza.memory.embeddings import Embedder, cosine
from cadenza.memory.index import Entry, Hit, TextIndex

KINDS = ("fact", "lesson", "note")
RRF_K = 60


def agent_scope(name: str) -> str:
    return f"agent:{name}"


def user_scope(user: str) -> str:
    return f"user:{user}"


def workflow_scope(name: str) -> str:
    return f"workflow:{name}"


@dataclass(slots=True)
class Memory:
    """A recalled memory: its text, whose it is, what kind, when, and how well it matched."""

    text: str
    scope: str
    kind: str
    key: str
    created_at: float
    score: float = 0.0
    meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "scope": self.scope, "kind": self.kind, "score": round(self.score, 4)}


class LongTermMemory:
    """Persistent, scoped memory at ``url`` (the store's database by default)."""

    def __init__(
        self, url: str | None = None, *, index: TextIndex | None = None, embedder: Embedder | None = None
    ):
        if url is None and index is None:
            from cadenza.store.url import default_database_url

            url = default_database_url()
        self.url = url or (index.url if index is not None else "")
        self.embedder = embedder
        self._index = index
        self._lock = asyncio.Lock()

    async def index(self) -> TextIndex:
        if self._index is None:
            async with self._lock:
                if self._index is None:
                    self._index = await TextIndex.open(self.url)
        return self._index

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()
            self._index = None

    async def remember(
        self,
        text: str,
        *,
        scope: str,
        kind: str = "fact",
        key: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Memory:
        """Store ``text`` in ``scope``; the same text (or ``key``) again replaces the old entry."""
        text = text.strip()
        if not text:
            raise ValueError("there is nothing to remember: the text is empty")
        if kind not in KINDS:
            raise ValueError(f"unknown memory kind {kind!r}; use one of {', '.join(KINDS)}")
        entry = Entry(f"{scope}/{kind}", key or text_key(text), text, meta=dict(meta or {}))
        if self.embedder is not None:
            (entry.embedding,) = await self.embedder.embed([text])
        await (await self.index()).put(entry)
        return _memory(entry)

    async def recall(
        self, query: str, *, scopes: Sequence[str], kinds: Sequence[str] = KINDS, limit: int = 5
    ) -> list[Memory]:
        """The memories of ``scopes`` that best match ``query``, best first."""
        namespaces = [f"{scope}/{kind}" for scope in scopes for kind in kinds]
        index = await self.index()
        hits = await index.search(namespaces, query, limit * 2)
        if self.embedder is None:
            return [_memory(h.entry, h.score) for h in hits[:limit]]
        similar = await self._similar(index, namespaces, query, limit * 2)
        return _fuse(hits, similar, limit)

    async def _similar(
        self, index: TextIndex, namespaces: list[str], query: str, limit: int
    ) -> list[tuple[Entry, float]]:
        assert self.embedder is not None
        (vector,) = await self.embedder.embed([query])
        scored = []
        for namespace in namespaces:
            for entry in await index.all(namespace):
                if entry.embedding:
                    scored.append((entry, cosine(vector, entry.embedding)))
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return [pair for pair in scored[:limit] if pair[1] > 0.1]

    async def recent(self, scope: str, kind: str = "fact", limit: int = 10) -> list[Memory]:
        """The newest memories of one kind in ``scope``, newest first."""
        entries = await (await self.index()).recent(f"{scope}/{kind}", limit)
        return [_memory(e) for e in entries]

    async def forget(self, scope: str, kind: str | None = None, key: str | None = None) -> int:
        """Delete one memory (``kind`` and ``key``), one kind, or everything in ``scope``."""
        index = await self.index()
        kinds = [kind] if kind else list(KINDS)
        return sum([await index.delete(f"{scope}/{k}", key) for k in kinds])

    async def count(self, scope: str, kind: str = "fact") -> int:
        return await (await self.index()).count(f"{scope}/{kind}")


def text_key(text: str) -> str:
    """A stable key for a text: the same words in any case and spacing give the same key."""
    normal = " ".join(re.findall(r"\w+", text.lower()))
    return hashlib.sha256(normal.encode()).hexdigest()[:24]


def _memory(entry: Entry, score: float = 0.0) -> Memory:
    scope, _, kind = entry.namespace.rpartition("/")
    return Memory(entry.text, scope, kind, entry.key, entry.created_at, score, entry.meta)


def _fuse(hits: list[Hit], similar: list[tuple[Entry, float]], limit: int) -> list[Memory]:
    """Reciprocal-rank fusion of full-text and embedding rankings."""
    scores: dict[tuple[str, str], float] = {}
    entries: dict[tuple[str, str], Entry] = {}
    for ranking in ([h.entry for h in hits], [e for e, _ in similar]):
        for position, entry in enumerate(ranking, start=1):
            key = (entry.namespace, entry.key)
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + position)
            entries[key] = entry
    best = sorted(scores, key=lambda k: scores[k], reverse=True)[:limit]
    return [_memory(entries[k], scores[k]) for k in best]
