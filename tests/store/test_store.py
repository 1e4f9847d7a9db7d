"""The store on real SQLite and PostgreSQL: schema checks, fencing, leases, clear errors."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from cadenza.store import (
    DatabaseUnavailableError,
    RunLeasedError,
    RunNotFoundError,
    RunStateError,
    SchemaMismatchError,
    StaleAttemptError,
    Store,
    migrate,
)
from cadenza.store.lease import process_owner


async def test_sqlite_file_is_created_and_upgraded_on_first_open(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/deep/dir/cadenza.db"
    store = await Store.open(url)
    try:
        assert await store.schema_revision() == migrate.HEAD
        async with store.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"
    finally:
        await store.close()


async def test_postgres_without_schema_is_refused_until_upgraded(postgres_url: str) -> None:
    with pytest.raises(SchemaMismatchError, match="cadenza db upgrade"):
        await Store.open(postgres_url)
    store = await Store.open(postgres_url, upgrade=True)
    await store.close()
    store = await Store.open(postgres_url)
    assert await store.schema_revision() == migrate.HEAD
    await store.close()


async def test_schema_newer_than_code_is_refused_and_left_alone(store_url: str) -> None:
    store = await Store.open(store_url, upgrade=True)
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()
    with pytest.raises(SchemaMismatchError, match="newer than this version") as caught:
        await Store.open(store_url, upgrade=True)
    assert caught.value.found == "9999"
    # Nothing changed: the version is still the newer one.
    from cadenza.store.engine import create_engine

    engine = create_engine(store_url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == "9999"
    await engine.dispose()


async def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        await Store.open("postgresql://cadenza:secret@127.0.0.1:1/nowhere")
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "secret" not in message


async def test_sqlite_in_an_unwritable_place_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailableError, match="database sqlite"):
        await Store.open("sqlite:////proc/no-such-dir/cadenza.db")


async def test_stale_attempt_cannot_write_the_journal(store: Store) -> None:
    run_id = uuid.uuid4().hex
    await store.create_run(run_id=run_id, workflow="w", task={"description": "t"}, owner="other:1:x")
    await store.writer.write_journal(run_id, 1, "w/llm#1", 1, "model", '{"t":"a"}')
    # A second process takes the run over (its lease expired): attempt 2.
    await store.finish_run(run_id, 1, "failed", error="crashed")
    taken = await store.take_run(run_id, process_owner())
    assert taken.attempt == 2
    with pytest.raises(StaleAttemptError, match="attempt 1 rejected"):
        await store.writer.write_journal(run_id, 1, "w/llm#2", 2, "model", '{"t":"b"}')
    await store.writer.write_journal(run_id, 2, "w/llm#2", 2, "model", '{"t":"c"}')
    journal = await store.load_journal(run_id)
    assert {path: e.data for path, e in journal.items()} == {"w/llm#1": '{"t":"a"}', "w/llm#2": '{"t":"c"}'}


async def test_a_run_driven_by_a_live_process_cannot_be_taken(store: Store) -> None:
    run_id = uuid.uuid4().hex
    # Driven by this (live) process.
    await store.create_run(run_id=run_id, workflow="w", task={"description": "t"}, owner=process_owner())
    with pytest.raises(RunLeasedError, match="live process"):
        await store.take_run(run_id, "someone-else:1:x")
    assert (await store.get_run(run_id)).attempt == 1


async def test_a_run_whose_owner_died_can_be_taken_at_once(store: Store) -> None:
    import socket

    run_id = uuid.uuid4().hex
    dead = f"{socket.gethostname()}:{2**22 + 12345}:deadbeef"
    await store.create_run(run_id=run_id, workflow="w", task={"description": "t"}, owner=dead)
    assert [r.id for r in await store.orphaned_runs()] == [run_id]
    taken = await store.take_run(run_id, process_owner())
    assert taken.attempt == 2 and taken.lease_owner == process_owner()


async def test_unknown_and_finished_runs_cannot_be_resumed(store: Store) -> None:
    with pytest.raises(RunNotFoundError):
        await store.take_run(uuid.uuid4().hex, process_owner())
    with pytest.raises(RunNotFoundError):
        await store.get_run("not-a-uuid")
    run_id = uuid.uuid4().hex
    await store.create_run(run_id=run_id, workflow="w", task={"description": "t"}, owner=process_owner())
    await store.finish_run(run_id, 1, "succeeded", output="done")
    with pytest.raises(RunStateError, match="'succeeded'"):
        await store.take_run(run_id, process_owner())
    with pytest.raises(RunStateError, match="waiting"):
        await store.decide(run_id, approved=True, comment="", by="me")
    record = await store.get_run(run_id)
    assert record.status == "succeeded" and record.attempt == 1 and record.output == "done"
