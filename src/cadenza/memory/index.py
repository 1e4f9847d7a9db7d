"""A persistent full-text index of short texts, grouped by namespace.

Long-term memory and the local search corpus both need the same thing: store texts under a
namespace (``agent:researcher``, ``corpus:/docs``), find the ones that match a query, ranked,
with a snippet. On SQLite that is an FTS5 table (BM25 ranking, porter stemming); on PostgreSQL a
generated ``tsvector`` column with a GIN index (``ts_rank``, ``ts_headline``). Both run through
the store's async engine (``cadenza.store.engine``), so a memory can live in the same database
as the runs. Tables are created on first open when missing (the same DDL the store's migration
runs), so a standalone file works too.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cadenza.errors import MemoryStoreError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32


@dataclass(slots=True)
class Entry:
    """One stored text. ``key`` is unique within its namespace (putting it again replaces it)."""

    namespace: str
    key: str
    text: str
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    embedding: list[float] | None = None


@dataclass(slots=True)
class Hit:
    """A search result: the entry, its rank score (higher is better) and a snippet."""

    entry: Entry
    score: float
    snippet: str


def sqlite_ddl() -> list[str]:
    """The SQLite schema: a content table and an external-content FTS5 index kept in sync."""
    return [
        """CREATE TABLE IF NOT EXISTS memory_entries (
            id INTEGER PRIMARY KEY,
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            embedding TEXT,
            created_at REAL NOT NULL,
            UNIQUE (namespace, key))""",
        """CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
            title, text, content='memory_entries', content_rowid='id', tokenize='porter unicode61')""",
        """CREATE TRIGGER IF NOT EXISTS memory_entries_ai AFTER INSERT ON memory_entries BEGIN
            INSERT INTO memory_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END""",
        """CREATE TRIGGER IF NOT EXISTS memory_entries_ad AFTER DELETE ON memory_entries BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text); END""",
        """CREATE TRIGGER IF NOT EXISTS memory_entries_au AFTER UPDATE ON memory_entries BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO memory_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END""",
        "CREATE INDEX IF NOT EXISTS memory_entries_recent ON memory_entries (namespace, created_at)",
    ]


def postgresql_ddl() -> list[str]:
    """The PostgreSQL schema: a generated, weighted ``tsvector`` with a GIN index."""
    return [
        """CREATE TABLE IF NOT EXISTS memory_entries (
            id BIGSERIAL PRIMARY KEY,
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            embedding TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            search TSVECTOR GENERATED ALWAYS AS (
                setweight(to_tsvector('english', title), 'A') || to_tsvector('english', text)) STORED,
            UNIQUE (namespace, key))""",
        "CREATE INDEX IF NOT EXISTS memory_entries_search ON memory_entries USING GIN (search)",
        "CREATE INDEX IF NOT EXISTS memory_entries_recent ON memory_entries (namespace, created_at)",
    ]


def query_terms(query: str) -> list[str]:
    """The words of a free-text query, lower-cased and de-duplicated (no query syntax passes)."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_QUERY_TERMS]


class TextIndex:
    """Full-text search over entries in a SQLite file or a PostgreSQL database.

    Open with ``await TextIndex.open(url)``; ``url`` is anything the store accepts (a file path,
    ``sqlite:///...``, ``postgresql://...``).
    """

    def __init__(self, engine: AsyncEngine, url: str, *, owns_engine: bool) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        self._owns_engine = owns_engine

    @classmethod
    async def open(cls, url: str, *, engine: AsyncEngine | None = None) -> TextIndex:
        """Connect (or reuse ``engine``) and create the tables if they are missing."""
        from cadenza.store.engine import create_engine
        from cadenza.store.url import redact

        try:
            index = cls(engine or create_engine(url), url, owns_engine=engine is None)
            await index._create()
        except MemoryStoreError:
            raise
        except Exception as exc:
            raise MemoryStoreError(
                f"cannot open memory at {redact(url)}: {type(exc).__name__}: {exc}"
            ) from exc
        return index

    async def _create(self) -> None:
        from sqlalchemy import text

        ddl = postgresql_ddl() if self.dialect == "postgresql" else sqlite_ddl()
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Concurrent first opens would race on CREATE ... IF NOT EXISTS; serialise them.
                await conn.execute(text("SELECT pg_advisory_xact_lock(7010001)"))
            for statement in ddl:
                await conn.execute(text(statement))

    async def close(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    async def put(self, entry: Entry) -> None:
        """Insert or replace ``entry`` (same namespace and key)."""
        await self.put_many([entry])

    async def put_many(self, entries: Sequence[Entry]) -> None:
        from sqlalchemy import text

        if not entries:
            return
        rows = [
            {
                "namespace": e.namespace,
                "key": e.key,
                "title": e.title,
                "text": e.text,
                "meta": json.dumps(e.meta, ensure_ascii=False, default=str),
                "embedding": json.dumps(e.embedding) if e.embedding is not None else None,
                "created_at": e.created_at,
            }
            for e in entries
        ]
        statement = text(
            "INSERT INTO memory_entries (namespace, key, title, text, meta, embedding, created_at) "
            "VALUES (:namespace, :key, :title, :text, :meta, :embedding, :created_at) "
            "ON CONFLICT (namespace, key) DO UPDATE SET title = excluded.title, text = excluded.text, "
            "meta = excluded.meta, embedding = excluded.embedding, created_at = excluded.created_at"
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement, rows)

    async def search(self, namespaces: Sequence[str], query: str, limit: int = 5) -> list[Hit]:
        """The entries of ``namespaces`` that match any word of ``query``, best first."""
        terms = query_terms(query)
        if not terms or not namespaces:
            return []
        if self.dialect == "postgresql":
            return await self._search_postgresql(namespaces, terms, limit)
        return await self._search_sqlite(namespaces, terms, limit)

    async def _search_sqlite(self, namespaces: Sequence[str], terms: list[str], limit: int) -> list[Hit]:
        from sqlalchemy import bindparam, text

        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        # (snippet() is cheap in FTS5: computing it for every match beats matching twice)
        statement = text(
            "SELECT e.namespace, e.key, e.title, e.text, e.meta, e.embedding, e.created_at, "
            "bm25(memory_fts, 5.0, 1.0) AS rank, "
            "snippet(memory_fts, 1, '[', ']', '…', 24) AS snippet "
            "FROM memory_fts JOIN memory_entries e ON e.id = memory_fts.rowid "
            "WHERE memory_fts MATCH :match AND e.namespace IN :namespaces "
            "ORDER BY rank LIMIT :limit"
        ).bindparams(bindparam("namespaces", expanding=True))
        async with self.engine.connect() as conn:
            result = await conn.execute(
                statement, {"match": match, "namespaces": list(namespaces), "limit": limit}
            )
            rows = result.all()
        # bm25() is lower-is-better and negative; flip it so higher is better everywhere.
        return [Hit(_entry(row), -float(row.rank), row.snippet) for row in rows]

    async def _search_postgresql(self, namespaces: Sequence[str], terms: list[str], limit: int) -> list[Hit]:
        from sqlalchemy import bindparam, text

        # Rank every match, but build headlines (the expensive part) for the top rows only.
        statement = text(
            "WITH q AS (SELECT to_tsquery('english', :tsquery) AS query), "
            "top AS (SELECT e.namespace, e.key, e.title, e.text, e.meta, e.embedding, e.created_at, "
            "ts_rank(e.search, q.query) AS rank "
            "FROM memory_entries e, q WHERE e.search @@ q.query AND e.namespace IN :namespaces "
            "ORDER BY rank DESC, e.created_at DESC LIMIT :limit) "
            "SELECT top.*, ts_headline('english', top.text, q.query, "
            "'StartSel=[, StopSel=], MaxWords=35, MinWords=12, FragmentDelimiter=…') AS snippet "
            "FROM top, q ORDER BY top.rank DESC, top.created_at DESC"
        ).bindparams(bindparam("namespaces", expanding=True))
        tsquery = " | ".join(_pg_term(t) for t in terms)
        async with self.engine.connect() as conn:
            result = await conn.execute(
                statement, {"tsquery": tsquery, "namespaces": list(namespaces), "limit": limit}
            )
            rows = result.all()
        return [Hit(_entry(row), float(row.rank), row.snippet) for row in rows]

    async def recent(self, namespace: str, limit: int = 20) -> list[Entry]:
        """The newest entries of ``namespace``, newest first."""
        from sqlalchemy import text

        statement = text(
            "SELECT namespace, key, title, text, meta, embedding, created_at FROM memory_entries "
            "WHERE namespace = :namespace ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement, {"namespace": namespace, "limit": limit})).all()
        return [_entry(row) for row in rows]

    async def get(self, namespace: str, key: str) -> Entry | None:
        from sqlalchemy import text

        statement = text(
            "SELECT namespace, key, title, text, meta, embedding, created_at FROM memory_entries "
            "WHERE namespace = :namespace AND key = :key"
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(statement, {"namespace": namespace, "key": key})).first()
        return _entry(row) if row is not None else None

    async def all(self, namespace: str) -> list[Entry]:
        """Every entry of ``namespace`` (for embedding search over a namespace)."""
        return await self.recent(namespace, limit=1_000_000)

    async def delete(self, namespace: str, key: str | None = None) -> int:
        """Delete one entry, or the whole namespace when ``key`` is ``None``; returns how many."""
        from sqlalchemy import text

        if key is None:
            statement = text("DELETE FROM memory_entries WHERE namespace = :namespace")
            params: dict[str, Any] = {"namespace": namespace}
        else:
            statement = text("DELETE FROM memory_entries WHERE namespace = :namespace AND key = :key")
            params = {"namespace": namespace, "key": key}
        async with self.engine.begin() as conn:
            result = await conn.execute(statement, params)
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_prefix(self, namespace: str, prefix: str) -> int:
        """Delete the entries of ``namespace`` whose key starts with ``prefix``."""
        from sqlalchemy import text

        statement = text(
            "DELETE FROM memory_entries WHERE namespace = :namespace "
            "AND substr(key, 1, length(:prefix)) = :prefix"
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(statement, {"namespace": namespace, "prefix": prefix})
        return int(getattr(result, "rowcount", 0) or 0)

    async def count(self, namespace: str) -> int:
        from sqlalchemy import text

        statement = text("SELECT count(*) FROM memory_entries WHERE namespace = :namespace")
        async with self.engine.connect() as conn:
            return int((await conn.execute(statement, {"namespace": namespace})).scalar_one())


def _entry(row: Any) -> Entry:
    embedding = json.loads(row.embedding) if row.embedding else None
    return Entry(row.namespace, row.key, row.text, row.title, json.loads(row.meta), row.created_at, embedding)


def _pg_term(term: str) -> str:
    # A bare word is a valid tsquery operand once quoted; the query parser then stems it.
    return "'" + term.replace("'", "''").replace("\\", "") + "'"
