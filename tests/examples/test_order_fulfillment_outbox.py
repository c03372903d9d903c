"""The order saga starts from an outbox row that commits with the order itself.

The app's ``orders`` table, the outbox and the example's services share one scratch
PostgreSQL database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from examples.order_fulfillment.activities import (
    ACTIVITIES,
    Services,
    close_services,
    services,
)
from examples.order_fulfillment.workflows import register
from temporal_sagas import SagaStatus, saga_state
from temporal_sagas.definitions import DefinitionSaga, DefinitionSagaInput
from temporal_sagas.postgres import create_outbox_table, enqueue_saga, relay_once
from temporal_sagas.postgres._outbox import RelayReport


@pytest_asyncio.fixture
async def shop(dsn: str) -> AsyncIterator[Services]:
    """The inventory, payment and shipping services the activities use."""
    try:
        yield services()
    finally:
        # The pool must be gone before the scratch database is dropped.
        await close_services()


@pytest_asyncio.fixture
async def pool(dsn: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(dsn, min_size=1, max_size=4, open=False) as opened:
        async with opened.connection() as conn:
            await create_outbox_table(conn)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, body jsonb NOT NULL)"
            )
        yield opened


async def _place_order(pool: AsyncConnectionPool[Any], task_queue: str, *, commit: bool) -> str:
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    order = {
        "order_id": order_id,
        "sku": "BOOK-42",
        "quantity": 1,
        "amount_cents": 1_500,
        "card": "ok",
        "address": "1 Rua Augusta, Lisbon",
    }
    request = DefinitionSagaInput(name="order-fulfillment", version=1, input=order)
    async with pool.connection() as conn:
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO orders (id, body) VALUES (%s, %s)",
                    (order_id, Jsonb(order)),
                )
                await enqueue_saga(
                    conn,
                    key=order_id,
                    saga="DefinitionSaga",
                    payload=request,
                    task_queue=task_queue,
                )
                if not commit:
                    raise _Rollback
        except _Rollback:
            pass
    return order_id


class _Rollback(Exception):
    pass


async def test_an_order_committed_with_its_outbox_row_is_fulfilled_once(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    pool: AsyncConnectionPool[Any],
    shop: Services,
) -> None:
    register()
    client = saga_dev_env.client
    order_id = await _place_order(pool, saga_task_queue, commit=True)
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
    ):
        first = await relay_once(client, pool)
        again = await relay_once(client, pool)
        handle = client.get_workflow_handle(order_id)
        await handle.result()
        state = await saga_state(handle)

    assert first == RelayReport(started=1)
    assert again == RelayReport()
    assert state.status is SagaStatus.COMPLETED
    assert await shop.history(order_id) == ["reserved", "charged", "confirmed", "shipped"]
    assert await shop.payments(order_id) == [("charge", 1_500)]


async def test_a_rolled_back_order_starts_no_saga(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    pool: AsyncConnectionPool[Any],
    shop: Services,
) -> None:
    order_id = await _place_order(pool, saga_task_queue, commit=False)

    report = await relay_once(saga_dev_env.client, pool)

    assert report == RelayReport()
    assert await shop.history(order_id) == []
