"""The money-transfer example, end to end on the local dev server and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from examples.money_transfer.activities import (
    ACTIVITIES,
    TransferRequest,
    bank,
    close_banks,
)
from examples.money_transfer.workflows import Transfer, TransferReceipt
from temporal_sagas import SAGA_COMPENSATED, SagaStatus, saga_state, start_saga

OPENING = 10_000


@pytest_asyncio.fixture
async def client(
    dsn: str, saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> AsyncIterator[Client]:
    """The dev server's client, a money-transfer worker, and fresh accounts."""
    accounts = bank()
    for name in ("alice", "bob", "closed"):
        await accounts.open_account(name, OPENING)
    await accounts.close_account("closed")
    try:
        async with Worker(
            saga_dev_env.client,
            task_queue=saga_task_queue,
            workflows=[Transfer],
            activities=ACTIVITIES,
        ):
            yield saga_dev_env.client
    finally:
        # The pool must be gone before the scratch database is dropped.
        await close_banks()


def _transfer(source: str, target: str, amount: int) -> TransferRequest:
    return TransferRequest(
        transfer_id=f"transfer-{uuid.uuid4().hex[:8]}", source=source, target=target, amount=amount
    )


async def _run(client: Client, queue: str, req: TransferRequest) -> TransferReceipt:
    handle = await start_saga(client, Transfer.run, req, id=req.transfer_id, task_queue=queue)
    return await handle.result()


def _ledger(dsn: str, transfer_id: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT kind, account, amount FROM ledger WHERE transfer_id = %s ORDER BY id",
            (transfer_id,),
        ).fetchall()
    return [(kind, account, amount) for kind, account, amount in rows]


async def test_completed_transfers_move_money_and_conserve_the_total(
    client: Client, saga_task_queue: str, dsn: str
) -> None:
    first, second = _transfer("alice", "bob", 700), _transfer("bob", "alice", 200)

    receipt = await _run(client, saga_task_queue, first)
    await _run(client, saga_task_queue, second)

    assert receipt.withdrawn.amount == -700
    assert receipt.deposited.amount == 700
    balances = await bank().balances()
    assert balances == {"alice": OPENING - 500, "bob": OPENING + 500, "closed": OPENING}
    assert _ledger(dsn, first.transfer_id) == [("withdraw", "alice", -700), ("deposit", "bob", 700)]


async def test_deposit_to_closed_account_refunds_the_withdrawal(
    client: Client, saga_task_queue: str, dsn: str
) -> None:
    req = _transfer("alice", "closed", 300)
    handle = await start_saga(
        client, Transfer.run, req, id=req.transfer_id, task_queue=saga_task_queue
    )

    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()

    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.type == SAGA_COMPENSATED
    state = await saga_state(handle)
    assert state.status is SagaStatus.COMPENSATED
    assert state.compensation_order == ["deposit", "withdraw"]
    assert _ledger(dsn, req.transfer_id) == [("withdraw", "alice", -300), ("refund", "alice", 300)]
    assert sum((await bank().balances()).values()) == 3 * OPENING


async def test_withdrawal_beyond_the_balance_changes_nothing(
    client: Client, saga_task_queue: str, dsn: str
) -> None:
    req = _transfer("bob", "alice", OPENING * 5)

    with pytest.raises(WorkflowFailureError):
        await _run(client, saga_task_queue, req)

    assert _ledger(dsn, req.transfer_id) == []
    assert sum((await bank().balances()).values()) == 3 * OPENING
