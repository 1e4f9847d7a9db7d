"""The journal's cost: µs per journaled step on SQLite and PostgreSQL against in-memory runs, and
bytes stored per step.

Run: python bench/bench_journal.py [--quick] [--pg URL]

* The flow is a 3-stage pipeline of agents on a zero-latency FunctionModel, so the time measured
  is Cadenza's own: the in-memory run is the baseline; a durable run adds the run row (create,
  finish), the journal entry of every model call (awaited: durable before the run moves on), the
  events and the cost ledger (committed with the journal's batches).
* "sequential" runs one run at a time: every step waits for its own commit (the worst case:
  5 commits per 3-step run — the run row, three journal entries, the finish with the events).
  "concurrent" starts many runs at once: their journal writes share batched commits.
* Each figure is the best of ``--repeat`` rounds (the machine is shared; the minimum is the
  least disturbed measurement).
* Bytes are the journal entries' path + data for one 3-step run (the durable state a resume
  needs), then the stored events and the run row, measured in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
import uuid

from sqlalchemy import func, select

from cadenza import Agent, FunctionModel, Pipeline
from cadenza.durable import run_durable
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.store import Store
from cadenza.store.tables import run_events, runs
from cadenza.types.messages import Message
from cadenza.types.usage import Usage

STEPS = 3
PG_URL = os.environ.get("CADENZA_TEST_PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432/test")


def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
    return ModelResponse(text="A short, realistic answer of a few words.", usage=Usage(40, 10), model="bench")


def flow() -> Pipeline:
    model = FunctionModel(reply, name="bench")
    return Pipeline(
        [Agent(f"stage{i}", model=model, instructions="Be brief.") for i in range(STEPS)], name="bench"
    )


async def in_memory(n: int, concurrent: int) -> float:
    """µs per step of plain in-memory runs."""
    pipeline = flow()
    await pipeline.run("warm up")
    gc.collect()
    started = time.perf_counter()
    for _ in range(n // concurrent):
        await asyncio.gather(*(pipeline.run("Summarise the market") for _ in range(concurrent)))
    return (time.perf_counter() - started) / n / STEPS * 1e6


async def durable(store: Store, n: int, concurrent: int) -> float:
    """µs per step of durable runs."""
    pipeline = flow()
    await run_durable(pipeline, "warm up", store=store)
    gc.collect()
    started = time.perf_counter()
    for _ in range(n // concurrent):
        await asyncio.gather(
            *(run_durable(pipeline, "Summarise the market", store=store) for _ in range(concurrent))
        )
    return (time.perf_counter() - started) / n / STEPS * 1e6


async def stored_bytes(store: Store) -> tuple[int, int, int, int]:
    """(journal entries, journal bytes, event bytes, run-row bytes) of one 3-step run."""
    result = await run_durable(flow(), "Summarise the market", store=store)
    entries, journal = await store.journal_size(result.run_id)
    key = uuid.UUID(result.run_id).hex
    async with store.engine.connect() as conn:
        events = (
            await conn.execute(
                select(
                    func.coalesce(
                        func.sum(func.length(run_events.c.data) + func.length(run_events.c.path)), 0
                    )
                ).where(run_events.c.run_id == key)
            )
        ).scalar_one()
        row = (await conn.execute(select(runs).where(runs.c.id == key))).one()
    row_bytes = sum(len(str(v)) for v in row if v is not None)
    return entries, journal, int(events), row_bytes


async def bench_store(label: str, url: str, n: int, repeat: int) -> dict[str, float]:
    store = await Store.open(url, upgrade=True)
    try:
        sequential = min([await durable(store, n, 1) for _ in range(repeat)])
        concurrent = min([await durable(store, n * 4, 50) for _ in range(repeat)])
        entries, journal, events, row = await stored_bytes(store)
    finally:
        await store.close()
    return {
        "label": label,
        "sequential": sequential,
        "concurrent": concurrent,
        "entries": entries,
        "journal": journal,
        "events": events,
        "row": row,
    }


async def fresh_pg_database(url: str) -> tuple[str, str]:
    import asyncpg

    name = f"cadenza_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{url.rsplit('/', 1)[0]}/{name}", name


async def drop_pg_database(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(quick: bool, pg_url: str | None, repeat: int) -> None:
    n = 100 if quick else 400
    mem_seq = min([await in_memory(n, 1) for _ in range(repeat)])
    mem_conc = min([await in_memory(n * 4, 50) for _ in range(repeat)])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(await bench_store("SQLite (WAL, file)", f"sqlite:///{tmp}/bench.db", n, repeat))
    if pg_url:
        try:
            url, name = await fresh_pg_database(pg_url)
        except Exception as exc:
            print(f"PostgreSQL skipped: {exc}")
        else:
            try:
                rows.append(await bench_store("PostgreSQL (asyncpg)", url, n, repeat))
            finally:
                await drop_pg_database(pg_url, name)

    print(
        f"3-step pipeline, zero-latency model; {n} sequential runs, {n * 4} runs 50 at a time, "
        f"best of {repeat}\n"
    )
    print(f"{'store':<22} {'µs/step seq':>12} {'+journal':>9} {'µs/step conc':>13} {'+journal':>9}")
    print(f"{'in-memory':<22} {mem_seq:>12.1f} {'':>9} {mem_conc:>13.1f}")
    for r in rows:
        print(
            f"{r['label']:<22} {r['sequential']:>12.1f} {r['sequential'] - mem_seq:>+9.1f} "
            f"{r['concurrent']:>13.1f} {r['concurrent'] - mem_conc:>+9.1f}"
        )
    print()
    print(f"{'store':<22} {'entries':>8} {'journal B':>10} {'B/step':>7} {'events B':>9} {'run row B':>10}")
    for r in rows:
        print(
            f"{r['label']:<22} {r['entries']:>8} {r['journal']:>10} {r['journal'] / STEPS:>7.0f} "
            f"{r['events']:>9} {r['row']:>10}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument(
        "--pg", default=PG_URL, help="PostgreSQL URL (a fresh database is created); '' to skip"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds per figure (the best is kept)")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.pg or None, args.repeat))
