"""The store's migrations create the memory tables, and memory then works on the store's
database (the default home of long-term memory)."""

from __future__ import annotations

from pathlib import Path

from cadenza.memory import LongTermMemory, TextIndex


async def test_migrated_store_database_holds_memory(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from cadenza.store.engine import create_engine
    from cadenza.store.migrate import upgrade

    url = str(tmp_path / "cadenza.db")
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert {"memory_entries", "memory_fts", "runs"} <= set(tables)
        memory = LongTermMemory(index=await TextIndex.open(url, engine=engine))
        await memory.remember("Runs and memories share one file.", scope="agent:a")
        assert [m.text for m in await memory.recall("share file", scopes=["agent:a"])] == [
            "Runs and memories share one file."
        ]
    finally:
        await engine.dispose()
