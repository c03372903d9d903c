"""Concurrent start-up: many workers, relays and audit sinks create their tables at once.

Each test starts a dozen openers at the same moment on a database that has none of the
tables yet (the case of a fleet deployed onto a fresh database). Without the advisory
lock, most of them fail on a duplicate key in the system catalogue.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import AsyncConnection

from temporal_sagas._models import SagaEvent, SagaEventKind, SagaStatus
from temporal_sagas.audit._events import AuditEvent, SagaIdentity, build_audit_trail
from temporal_sagas.postgres import PostgresAuditSink, PostgresStore, create_outbox_table
from tests.activities.postgres import scratch_database

OPENERS = 12


@pytest.fixture
def fresh_dsn() -> Iterator[str]:
    """A database of its own, without any of the package's tables."""
    with scratch_database() as dsn:
        yield dsn


def _tables(dsn: str) -> set[tuple[str, str]]:
    """(schema, table) of every user table, read from the catalogue."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {(schema, table) for schema, table in rows}


async def _open_stores(dsn: str, *, schema: str | None = None) -> list[BaseException | None]:
    stores = [PostgresStore(dsn, schema=schema, min_size=1, max_size=1) for _ in range(OPENERS)]
    try:
        return list(
            await asyncio.gather(*(store.open() for store in stores), return_exceptions=True)
        )
    finally:
        for store in stores:
            await store.close()


async def _create_outboxes(dsn: str, *, schema: str | None = None) -> list[BaseException | None]:
    async def create() -> None:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await create_outbox_table(conn, schema=schema)

    return list(await asyncio.gather(*(create() for _ in range(OPENERS)), return_exceptions=True))


def _event(index: int) -> AuditEvent:
    timeline = [
        SagaEvent(
            kind=SagaEventKind.SAGA_STARTED,
            event_id=f"run-{index}/1.0",
            at=datetime(2026, 12, 1, tzinfo=UTC),
            status=SagaStatus.RUNNING,
        )
    ]
    identity = SagaIdentity(
        saga="s",
        saga_key=f"k{index}",
        workflow_id=f"w{index}",
        run_id=f"run-{index}",
        correlation_id=f"w{index}",
    )
    return build_audit_trail(timeline, identity=identity, step_keys={})[0]


def _first_sink_writes(dsn: str, *, schema: str | None = None) -> int:
    """Each of a dozen sinks writes its first event at once; return how many rows landed."""
    sinks = [PostgresAuditSink(dsn, schema=schema) for _ in range(OPENERS)]
    start = threading.Barrier(OPENERS)

    def first_write(index: int) -> None:
        start.wait()
        sinks[index].write(_event(index))
        sinks[index].flush()

    threads = [threading.Thread(target=first_write, args=(i,)) for i in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sink in sinks:
        sink.close()
    # A write that failed is logged and dropped by the sink: the rows are the ground truth.
    return sum(len(sinks[0].stored(f"run-{i}")) for i in range(OPENERS))


async def test_a_dozen_stores_opening_at_once_on_an_empty_database_all_succeed(
    fresh_dsn: str,
) -> None:
    outcomes = await _open_stores(fresh_dsn)

    assert outcomes == [None] * OPENERS
    assert ("public", "sagas_idempotency") in _tables(fresh_dsn)


async def test_a_dozen_outbox_creations_at_once_on_an_empty_database_all_succeed(
    fresh_dsn: str,
) -> None:
    outcomes = await _create_outboxes(fresh_dsn)

    assert outcomes == [None] * OPENERS
    assert ("public", "sagas_outbox") in _tables(fresh_dsn)


async def test_a_dozen_audit_sinks_writing_first_at_once_store_every_event(
    fresh_dsn: str,
) -> None:
    assert await asyncio.to_thread(_first_sink_writes, fresh_dsn) == OPENERS


async def test_stores_relays_and_sinks_creating_one_new_schema_at_once_all_succeed(
    fresh_dsn: str,
) -> None:
    stores, outboxes, written = await asyncio.gather(
        _open_stores(fresh_dsn, schema="sagas"),
        _create_outboxes(fresh_dsn, schema="sagas"),
        asyncio.to_thread(_first_sink_writes, fresh_dsn, schema="sagas"),
    )

    assert stores == [None] * OPENERS
    assert outboxes == [None] * OPENERS
    assert written == OPENERS
    assert {("sagas", "sagas_idempotency"), ("sagas", "sagas_outbox"), ("sagas", "saga_audit")} <= (
        _tables(fresh_dsn)
    )


async def _create_once(dsn: str, piece: str) -> None:
    if piece == "store":
        store = PostgresStore(dsn, min_size=1, max_size=1)
        try:
            await store.open()
        finally:
            await store.close()
    else:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await create_outbox_table(conn)


_BUSY_WRITE = {
    "store": "INSERT INTO sagas_idempotency (key, state, updated_at) VALUES ('k', 'pending', 0)",
    "outbox": (
        "INSERT INTO sagas_outbox (key, saga, task_queue, payload) VALUES ('k', 's', 'q', '{}')"
    ),
}


@pytest.mark.parametrize("piece", ["store", "outbox"])
async def test_a_restart_beside_an_uncommitted_write_does_not_wait_for_it(
    fresh_dsn: str, piece: str
) -> None:
    await _create_once(fresh_dsn, piece)
    async with await AsyncConnection.connect(fresh_dsn) as busy:
        await busy.execute(_BUSY_WRITE[piece])  # an app's transaction, still open
        try:
            # Any wait for a table lock (a no-op ALTER TABLE or CREATE INDEX) fails at once.
            await _create_once(f"{fresh_dsn} options='-c lock_timeout=1'", piece)
        finally:
            await busy.rollback()
