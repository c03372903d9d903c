"""Records live as long as the saga that may still need them (time-skipping server).

A transfer withdraws 300, its next step is refused, and its refund fails for good:
the saga parks with the money out. Eight days pass on the server's clock and on the
store's (the default TTL is seven), the nightly purge runs, then an operator retries.
The refund must find the withdrawal and give the 300 back; when the withdrawal's
record is gone or expired anyway, the refund must park the saga again, naming the
key, and never record a void.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SagaStatus, operator_action, start_saga
from temporal_sagas._models import SagaState
from temporal_sagas.activities import ACTION_RECORD_MISSING, release_closed_sagas
from temporal_sagas.postgres import PostgresStore
from tests.activities.conftest import FakeClock
from tests.activities.idem_workflows import ParkedTransfer
from tests.activities.parked_activities import ACTIVITIES, BANK, SCHEMA, Move
from tests.sagas import new_id, wait_for, wait_for_status

OPENING = 1_000
PARKED = timedelta(days=8)


@pytest_asyncio.fixture
async def store(postgres_dsn: str, clock: FakeClock) -> AsyncIterator[PostgresStore]:
    """The bank's inbox store on a fresh table, on the test's clock."""
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    the_store = PostgresStore(postgres_dsn, table=f"parked_{new_id('keys')[-8:]}", clock=clock)
    BANK.dsn, BANK.store = postgres_dsn, the_store
    try:
        yield the_store
    finally:
        BANK.store = None
        await the_store.close()


def _open_account(dsn: str, account: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO parked_accounts (id, balance) VALUES (%s, %s)", (account, OPENING)
        )


def _books(dsn: str, transfer_id: str) -> tuple[int, list[tuple[str, int]]]:
    """The account's balance and the transfer's ledger rows, read from the database."""
    with psycopg.connect(dsn) as conn:
        balance = conn.execute(
            "SELECT balance FROM parked_accounts WHERE id = %s", (transfer_id,)
        ).fetchone()
        rows = conn.execute(
            "SELECT kind, amount FROM parked_ledger WHERE transfer_id = %s ORDER BY id",
            (transfer_id,),
        ).fetchall()
    assert balance is not None
    return balance[0], [(kind, amount) for kind, amount in rows]


async def _park_for_eight_days(
    env: WorkflowEnvironment, clock: FakeClock, task_queue: str, wid: str
) -> WorkflowHandle[Any, Any]:
    """Start the transfer with refunds down, wait until it parks, let eight days pass."""
    BANK.refunds_down.add(wid)
    move = Move(transfer_id=wid, account=wid, amount=300)
    handle = await start_saga(env.client, ParkedTransfer.run, move, id=wid, task_queue=task_queue)
    await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
    await env.sleep(PARKED)
    clock.advance(PARKED.total_seconds())
    return handle


async def _retry_refund(handle: WorkflowHandle[Any, Any]) -> SagaState:
    """Bring the refund service back, retry, and wait for the refund's second round."""
    BANK.refunds_down.discard(handle.id)
    await operator_action(handle, "retry", reason="the refund service is back")
    return await wait_for(
        handle,
        lambda s: (
            s.step("withdraw").compensation.rounds == 2
            and s.status in (SagaStatus.COMPENSATED, SagaStatus.NEEDS_ATTENTION)
        ),
    )


def _worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[ParkedTransfer], activities=ACTIVITIES)


async def test_a_refund_eight_days_into_parking_finds_its_withdrawal_and_refunds_it(
    saga_env: WorkflowEnvironment,
    saga_task_queue: str,
    store: PostgresStore,
    clock: FakeClock,
    postgres_dsn: str,
) -> None:
    wid = new_id("parked")
    _open_account(postgres_dsn, wid)
    async with _worker(saga_env.client, saga_task_queue):
        handle = await _park_for_eight_days(saga_env, clock, saga_task_queue, wid)
        purged = await store.purge_expired()  # the nightly purge, a day past the TTL
        state = await _retry_refund(handle)

    assert purged == 0
    assert state.status is SagaStatus.COMPENSATED
    assert _books(postgres_dsn, wid) == (OPENING, [("withdraw", -300), ("refund", 300)])


async def test_records_of_a_closed_saga_are_released_and_expire_one_ttl_later(
    saga_env: WorkflowEnvironment,
    saga_task_queue: str,
    store: PostgresStore,
    clock: FakeClock,
    postgres_dsn: str,
) -> None:
    wid = new_id("released")
    _open_account(postgres_dsn, wid)
    async with _worker(saga_env.client, saga_task_queue):
        handle = await _park_for_eight_days(saga_env, clock, saga_task_queue, wid)
        still_open = await release_closed_sagas(store, saga_env.client)
        await _retry_refund(handle)
    released = await release_closed_sagas(store, saga_env.client)
    clock.advance(timedelta(days=7).total_seconds() + 1)

    assert wid not in still_open
    assert wid in released
    assert await store.purge_expired() == 2  # the withdrawal's record and the refund's
    assert await store.get(f"parked/{wid}/withdraw") is None


@pytest.mark.parametrize("loss", ["deleted", "expired"])
async def test_a_refund_whose_withdrawal_record_is_gone_parks_naming_the_key_and_voids_nothing(
    saga_env: WorkflowEnvironment,
    saga_task_queue: str,
    store: PostgresStore,
    clock: FakeClock,
    postgres_dsn: str,
    loss: str,
) -> None:
    wid = new_id("lost")
    key = f"parked/{wid}/withdraw"
    _open_account(postgres_dsn, wid)
    async with _worker(saga_env.client, saga_task_queue):
        handle = await _park_for_eight_days(saga_env, clock, saga_task_queue, wid)
        # Deleted by hand, or written by a version that gave it a wall-clock TTL.
        change = (
            "DELETE FROM {} WHERE key = %s"
            if loss == "deleted"
            else "UPDATE {} SET expires_at = 0 WHERE key = %s"
        )
        with psycopg.connect(postgres_dsn) as conn:
            conn.execute(sql.SQL(change).format(store.table), (key,))
        state = await _retry_refund(handle)
        history = await handle.fetch_history()
        await handle.terminate("test over")

    failures = [
        event.activity_task_failed_event_attributes.failure
        for event in history.events
        if event.HasField("activity_task_failed_event_attributes")
    ]
    assert state.status is SagaStatus.NEEDS_ATTENTION
    assert failures[-1].application_failure_info.type == ACTION_RECORD_MISSING
    assert failures[-1].application_failure_info.non_retryable
    assert key in failures[-1].message
    assert _books(postgres_dsn, wid) == (OPENING - 300, [("withdraw", -300)])
    record = await store.get(key)
    assert record is None or record.result != "0"  # no void took the key
