"""The PostgreSQL inbox: the key record and the business write commit in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from psycopg import AsyncConnection

from temporal_sagas.postgres import PostgresStore
from tests.sagas import new_id


@pytest_asyncio.fixture
async def store(postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    the_store = PostgresStore(postgres_dsn, table="inbox_keys")
    async with await AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS deposits (key text, amount int)")
    yield the_store
    await the_store.close()


async def deposit(
    dsn: str, store: PostgresStore, key: str, *, crash_after_write: bool = False
) -> int:
    async with await AsyncConnection.connect(dsn) as conn, store.inbox(conn, key) as entry:
        if entry.completed:
            return entry.result(int)
        await conn.execute("INSERT INTO deposits VALUES (%s, 10)", (key,))
        await asyncio.sleep(0.05)  # widen the window for a racing transaction
        if crash_after_write:
            raise RuntimeError("worker died before commit")
        return entry.record(10)


async def deposits(dsn: str, key: str) -> int:
    async with await AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute("SELECT count(*) FROM deposits WHERE key = %s", (key,))
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def test_a_write_that_did_not_commit_leaves_no_record_and_its_retry_writes_once(
    postgres_dsn: str, store: PostgresStore
) -> None:
    key = new_id("deposit")
    with pytest.raises(RuntimeError, match="died"):
        await deposit(postgres_dsn, store, key, crash_after_write=True)
    assert await store.get(key) is None

    assert await deposit(postgres_dsn, store, key) == 10
    assert await deposit(postgres_dsn, store, key) == 10
    assert await deposits(postgres_dsn, key) == 1


async def test_concurrent_transactions_on_one_key_write_once(
    postgres_dsn: str, store: PostgresStore
) -> None:
    key = new_id("race")
    results = await asyncio.gather(*(deposit(postgres_dsn, store, key) for _ in range(5)))

    assert results == [10] * 5
    assert await deposits(postgres_dsn, key) == 1
