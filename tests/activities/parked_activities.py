"""A withdrawal whose refund can be held down: the saga parks with money out, for days.

The activities write through the inbox (`PostgresStore.inbox`) like the money-transfer
example: the balance, the ledger row and the key record commit together; the refund
locks the withdrawal's key and reverses what it recorded, or voids it when it never
committed. The store's clock is the test's, moved forward with the time-skipping
server's clock, so records age exactly as long as the saga stays parked.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas.activities import current_idempotency_key, current_step
from temporal_sagas.postgres import PostgresStore

#: The error type of a refund while the refund service is down (non-retryable: parks).
REFUNDS_DOWN = "RefundsDown"

SCHEMA = """
CREATE TABLE IF NOT EXISTS parked_accounts (id text PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE IF NOT EXISTS parked_ledger (
    id bigserial PRIMARY KEY, transfer_id text NOT NULL, kind text NOT NULL, amount bigint NOT NULL
);
"""


class Move(BaseModel):
    model_config = ConfigDict(frozen=True)

    transfer_id: str
    account: str
    amount: int


class Bank:
    """Where the activities write; the test points it at a scratch database and a store."""

    dsn: str = ""
    store: PostgresStore | None = None
    #: Transfers whose refunds fail for good until the test removes them.
    refunds_down: set[str] = set()  # noqa: RUF012 (shared, mutable on purpose)

    async def connect(self) -> AsyncConnection[Any]:
        return await AsyncConnection.connect(self.dsn)

    def inbox_store(self) -> PostgresStore:
        assert self.store is not None, "set BANK.store before running the worker"
        return self.store


BANK = Bank()


@activity.defn
async def withdraw(move: Move) -> int:
    """Debit the account once; the ledger row and the key record commit together."""
    key = current_idempotency_key()
    async with await BANK.connect() as conn, BANK.inbox_store().inbox(conn, key) as entry:
        if entry.completed:
            return entry.result(int)
        await conn.execute(
            "UPDATE parked_accounts SET balance = balance - %s WHERE id = %s",
            (move.amount, move.account),
        )
        await conn.execute(
            "INSERT INTO parked_ledger (transfer_id, kind, amount) VALUES (%s, 'withdraw', %s)",
            (move.transfer_id, -move.amount),
        )
        return entry.record(move.amount)


@activity.defn
async def refund(move: Move) -> int:
    """Give back what the withdrawal took, once; void its key when it never committed."""
    if move.transfer_id in BANK.refunds_down:
        raise ApplicationError("the refund service is down", type=REFUNDS_DOWN, non_retryable=True)
    store = BANK.inbox_store()
    async with (
        await BANK.connect() as conn,
        store.inbox(conn, current_idempotency_key()) as done,
    ):
        if done.completed:
            return done.result(int)
        async with store.inbox(conn, current_step().step_key) as action:
            if not action.completed:
                action.void(0)
                await conn.execute(
                    "INSERT INTO parked_ledger (transfer_id, kind, amount) VALUES (%s, 'void', 0)",
                    (move.transfer_id,),
                )
                return done.record(0)
            taken = action.result(int)
        await conn.execute(
            "UPDATE parked_accounts SET balance = balance + %s WHERE id = %s",
            (taken, move.account),
        )
        await conn.execute(
            "INSERT INTO parked_ledger (transfer_id, kind, amount) VALUES (%s, 'refund', %s)",
            (move.transfer_id, taken),
        )
        return done.record(taken)


@activity.defn
async def deliver(move: Move) -> None:
    """The step after the withdrawal: refused for good, so the saga compensates."""
    raise ApplicationError(f"{move.transfer_id} cannot be delivered", non_retryable=True)


ACTIVITIES = [withdraw, refund, deliver]
