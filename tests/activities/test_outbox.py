"""The outbox relay as a library call, against PostgreSQL and the dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import start_saga
from temporal_sagas.activities import SQLiteStore
from temporal_sagas.postgres import (
    OutboxRelay,
    RelayReport,
    create_outbox_table,
    enqueue_saga,
    relay_once,
)
from tests.activities import idem_activities
from tests.activities.idem_activities import ACTIVITIES, Order
from tests.activities.idem_workflows import GateSaga, IdemSaga
from tests.sagas import new_id


@pytest_asyncio.fixture(autouse=True)
async def effect_store(tmp_path: Path) -> AsyncIterator[None]:
    store = SQLiteStore(tmp_path / "keys.sqlite3")
    idem_activities.STORE.target = store
    yield
    idem_activities.STORE.target = None
    await store.close()


@pytest_asyncio.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(postgres_dsn, min_size=1, max_size=4, open=False) as pool:
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            await create_outbox_table(conn)
            await conn.execute("DELETE FROM sagas_outbox")  # rows of earlier tests
        yield pool


async def _enqueue(
    pool: AsyncConnectionPool[Any],
    task_queue: str,
    *keys: str,
    saga: str = "IdemSaga",
    aggregate: str | None = None,
    rollback: bool = False,
) -> None:
    async with pool.connection() as conn, conn.transaction():  # the app's own transaction
        for key in keys:
            await enqueue_saga(
                conn,
                key=key,
                saga=saga,
                payload=Order(id=key),
                task_queue=task_queue,
                aggregate_key=aggregate,
            )
        if rollback:
            raise psycopg.Rollback()


async def _executions(client: Client, workflow_id: str) -> int:
    return (await client.count_workflows(f"WorkflowId = '{workflow_id}'")).count


async def _sent(conn: AsyncConnection[Any], key: str) -> bool:
    cursor = await conn.execute(
        "SELECT sent_at IS NOT NULL FROM sagas_outbox WHERE key = %s", (key,)
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def test_relay_starts_one_saga_per_committed_row_and_marks_it_sent(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, pool: AsyncConnectionPool[Any]
) -> None:
    client, key, dropped = saga_dev_env.client, new_id("row"), new_id("dropped")
    await _enqueue(pool, saga_task_queue, key)
    await _enqueue(pool, saga_task_queue, dropped, rollback=True)
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[IdemSaga], activities=ACTIVITIES
    ):
        first = await relay_once(client, pool)
        second = await relay_once(client, pool)
        await client.get_workflow_handle(key).result()
        async with pool.connection() as conn:
            sent = await _sent(conn, key)
            cursor = await conn.execute(
                "SELECT count(*) FROM sagas_outbox WHERE key = %s", (dropped,)
            )
            dropped_rows = await cursor.fetchone()

    assert first == RelayReport(started=1)
    assert second == RelayReport()
    assert sent
    # The rolled-back row never existed, and no saga has its id (read from the workflow
    # itself, not from visibility, which catches up in its own time).
    assert dropped_rows == (0,)
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(dropped).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND


async def test_row_whose_saga_already_ran_is_marked_sent_without_a_second_run(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, pool: AsyncConnectionPool[Any]
) -> None:
    client, key = saga_dev_env.client, new_id("ran")
    await _enqueue(pool, saga_task_queue, key)
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[IdemSaga], activities=ACTIVITIES
    ):
        # A relay started this row's saga, which finished, and crashed before marking.
        handle = await start_saga(
            client, IdemSaga.run, Order(id=key), id=key, task_queue=saga_task_queue
        )
        await handle.result()
        report = await relay_once(client, pool)

    assert report == RelayReport(already_closed=1)
    assert await _executions(client, key) == 1


async def test_ordered_relay_starts_an_aggregates_next_row_only_after_its_previous_saga_closed(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, pool: AsyncConnectionPool[Any]
) -> None:
    client, first, second = saga_dev_env.client, new_id("first"), new_id("second")
    await _enqueue(pool, saga_task_queue, first, second, saga="GateSaga", aggregate="account-1")
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[GateSaga], activities=ACTIVITIES
    ):
        started = await relay_once(client, pool, ordered=True)
        held = await relay_once(client, pool, ordered=True)
        gate = client.get_workflow_handle(first)
        await gate.signal(GateSaga.open)
        await gate.result()
        released = await relay_once(client, pool, ordered=True)
        status = (await client.get_workflow_handle(second).describe()).status

    assert started == RelayReport(started=1, waiting=1)
    assert held == RelayReport(waiting=1)
    assert released == RelayReport(started=1)
    assert status == WorkflowExecutionStatus.RUNNING


async def test_a_row_naming_a_saga_off_the_allow_list_is_refused_and_left_unsent(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, pool: AsyncConnectionPool[Any]
) -> None:
    allowed, smuggled = new_id("allowed"), new_id("smuggled")
    await _enqueue(pool, saga_task_queue, allowed)
    await _enqueue(pool, saga_task_queue, smuggled, saga="AnyOtherWorkflow")
    relay = OutboxRelay(saga_dev_env.client, pool, allowed_sagas={"IdemSaga"})

    report = await relay.relay_once()

    assert (report.started, report.refused) == (1, 1)
    assert await _executions(saga_dev_env.client, allowed) == 1
    assert await _executions(saga_dev_env.client, smuggled) == 0
    async with pool.connection() as conn:
        assert not await _sent(conn, smuggled)
        cursor = await conn.execute(
            "SELECT last_error FROM sagas_outbox WHERE key = %s", (smuggled,)
        )
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] == "refused: saga 'AnyOtherWorkflow' is not on the relay's allow-list"


async def test_a_row_naming_a_task_queue_off_the_allow_list_is_refused(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, pool: AsyncConnectionPool[Any]
) -> None:
    key = new_id("elsewhere")
    await _enqueue(pool, "someone-elses-queue", key)
    relay = OutboxRelay(
        saga_dev_env.client, pool, allowed_sagas={"IdemSaga"}, allowed_task_queues={saga_task_queue}
    )

    report = await relay.relay_once()

    assert report.refused == 1
    assert await _executions(saga_dev_env.client, key) == 0
