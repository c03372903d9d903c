"""Activities of the money-transfer saga: accounts and a ledger in PostgreSQL.

Every activity writes through the inbox (`PostgresStore.inbox`): the ledger row, the
balance update and the record of the step's idempotency key commit in one
transaction, so a retried step (a crashed worker, a lost reply) finds its key done
and writes nothing again. That is exactly-once *effect* on top of Temporal's
at-least-once execution.

A compensation first locks the key of the action it undoes, in the same
transaction. If the action committed, the compensation reverses what it recorded;
if not, it records a *void* under the action's key, so an action attempt still in
flight (a zombie after a timeout) finds its key taken and does nothing. Either way
no money appears or disappears. The key records are held while the saga is open, so
a refund after a week-long parking still finds its withdrawal; when a record is
missing although the action may have committed, the refund fails loudly instead of
voiding (the saga parks).

The database comes from ``SAGAS_EXAMPLE_DSN`` (a libpq connection string); the
tables are created on first use.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas import current_idempotency_key, current_step
from temporal_sagas.postgres import PostgresStore

#: The environment variable holding the PostgreSQL connection string.
DSN_ENV = "SAGAS_EXAMPLE_DSN"
#: The error type of a deposit to an account that does not exist or is closed.
ACCOUNT_UNAVAILABLE = "AccountUnavailable"
#: The error type of a withdrawal larger than the balance.
INSUFFICIENT_FUNDS = "InsufficientFunds"
#: The error type of an injected transient fault (retryable).
INJECTED_FAULT = "InjectedFault"

EntryKind = Literal["withdraw", "refund", "deposit", "reverse_deposit", "void"]
#: Where an injected fault strikes: before the transaction, or after it committed
#: (the effect happened but the reply is lost, the case exactly-once is about).
FaultPoint = Literal["before", "after"]
#: Decides, from a step's idempotency key and attempt number, whether to fail it.
FaultHook = Callable[[str, int], FaultPoint | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id text PRIMARY KEY,
    balance bigint NOT NULL,
    open boolean NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS ledger (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL,
    transfer_id text NOT NULL,
    account text NOT NULL REFERENCES accounts (id),
    amount bigint NOT NULL,
    kind text NOT NULL
);
"""


class TransferRequest(BaseModel):
    """Move ``amount`` cents from ``source`` to ``target``.

    Attributes:
        transfer_id: The business key; also the saga's workflow id.
        source: The account debited.
        target: The account credited.
        amount: Cents to move, more than zero.
    """

    model_config = ConfigDict(frozen=True)

    transfer_id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    amount: int = Field(gt=0)


class Entry(BaseModel):
    """What one activity did to one account (``amount`` is signed; 0 for a void)."""

    model_config = ConfigDict(frozen=True)

    transfer_id: str
    account: str
    amount: int
    kind: EntryKind


class Bank:
    """The accounts, the ledger and the inbox of one PostgreSQL database.

    Args:
        dsn: A libpq connection string.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            dsn, min_size=1, max_size=10, open=False
        )
        # The key records live in the same database as the ledger: one transaction.
        self.store = PostgresStore(pool=self.pool, table="transfer_inbox")
        self._opened = False

    async def open(self) -> None:
        """Open the pool and create the tables (idempotent)."""
        if self._opened:
            return
        await self.pool.open(wait=True)
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA)
        await self.store.open()
        self._opened = True

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()
        self._opened = False

    async def open_account(self, account: str, balance: int) -> None:
        """Create (or reset) an open account holding ``balance`` cents."""
        await self.open()
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO accounts (id, balance, open) VALUES (%s, %s, true)"
                " ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, open = true",
                (account, balance),
            )

    async def close_account(self, account: str) -> None:
        """Mark ``account`` closed: deposits to it are refused."""
        await self.open()
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE accounts SET open = false WHERE id = %s", (account,))

    async def balances(self) -> dict[str, int]:
        """Every account's balance."""
        await self.open()
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT id, balance FROM accounts ORDER BY id")
            return {account: balance for account, balance in await cursor.fetchall()}

    async def post(self, key: str, entry: Entry, *, check: Literal["funds", "open"]) -> Entry:
        """Apply ``entry`` once under ``key``: balance, ledger row and key in one commit.

        Raises:
            ApplicationError: Non-retryable, when the account is unknown or closed
                (``check="open"``) or holds less than the withdrawal (``check="funds"``).
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(Entry)
            cursor = await conn.execute(
                "SELECT balance, open FROM accounts WHERE id = %s FOR UPDATE",
                (entry.account,),
            )
            row = await cursor.fetchone()
            if row is None or (check == "open" and not row[1]):
                raise ApplicationError(
                    f"account {entry.account!r} does not exist or is closed: "
                    f"transfer {entry.transfer_id!r} cannot be credited to it",
                    type=ACCOUNT_UNAVAILABLE,
                    non_retryable=True,
                )
            if check == "funds" and row[0] + entry.amount < 0:
                raise ApplicationError(
                    f"account {entry.account!r} holds {row[0]} cents, less than the "
                    f"{-entry.amount} transfer {entry.transfer_id!r} withdraws",
                    type=INSUFFICIENT_FUNDS,
                    non_retryable=True,
                )
            await self._write(conn, key, entry)
            return done.record(entry)

    async def undo(self, key: str, action_key: str, kind: EntryKind) -> Entry:
        """Reverse the action recorded under ``action_key``, once, under ``key``.

        When the action never committed, a void is recorded under its key instead, so
        a late attempt of the action cannot take effect after its compensation. When
        it may have committed (its record expired, or the saga saw it complete), the
        void is refused with a non-retryable ``ActionRecordMissing`` and the saga parks.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(Entry)
            # A savepoint inside the compensation's transaction: the action's key
            # row stays locked until the compensation commits.
            async with self.store.inbox(conn, action_key) as action:
                if not action.completed:
                    # Refuses (the saga parks) when the action may have committed.
                    void = action.void(Entry(transfer_id="", account="", amount=0, kind="void"))
                    return done.record(void)
                original = action.result(Entry)
            reverse = original.model_copy(update={"amount": -original.amount, "kind": kind})
            if original.amount == 0:  # the action itself was voided earlier
                return done.record(original)
            await self._write(conn, key, reverse)
            return done.record(reverse)

    async def _write(self, conn: AsyncConnection[Any], key: str, entry: Entry) -> None:
        await conn.execute(
            "UPDATE accounts SET balance = balance + %s WHERE id = %s",
            (entry.amount, entry.account),
        )
        await conn.execute(
            "INSERT INTO ledger (idempotency_key, transfer_id, account, amount, kind)"
            " VALUES (%s, %s, %s, %s, %s)",
            (key, entry.transfer_id, entry.account, entry.amount, entry.kind),
        )


_BANKS: dict[str, Bank] = {}
_FAULTS: list[FaultHook] = []


def bank(dsn: str | None = None) -> Bank:
    """The process's `Bank` for ``dsn`` (default: ``$SAGAS_EXAMPLE_DSN``).

    Raises:
        RuntimeError: No DSN was given and the environment variable is not set.
    """
    dsn = dsn or os.environ.get(DSN_ENV, "")
    if not dsn:
        raise RuntimeError(
            f"set {DSN_ENV} to a PostgreSQL connection string, e.g. "
            f"{DSN_ENV}='host=127.0.0.1 user=postgres dbname=bank'"
        )
    if dsn not in _BANKS:
        _BANKS[dsn] = Bank(dsn)
    return _BANKS[dsn]


async def close_banks() -> None:
    """Close every pool this process opened (before dropping a database)."""
    while _BANKS:
        await _BANKS.popitem()[1].close()


def inject_faults(hook: FaultHook | None) -> None:
    """Make activities fail transiently where ``hook`` says (None: stop injecting)."""
    _FAULTS.clear()
    if hook is not None:
        _FAULTS.append(hook)


def transient_faults(rate: float) -> FaultHook:
    """A hook failing about ``rate`` of all attempts, decided by key and attempt alone.

    The same key and attempt always get the same answer, so a run can be reproduced;
    half of the faults strike after the commit (the reply is lost, the effect is not).
    """

    def decide(key: str, attempt: int) -> FaultPoint | None:
        digest = hashlib.sha256(f"{key}#{attempt}".encode()).digest()
        if int.from_bytes(digest[:4], "big") >= rate * 2**32:
            return None
        return "before" if digest[4] % 2 == 0 else "after"

    return decide


async def _faulty(key: str, apply: Callable[[], Any]) -> Entry:
    attempt = activity.info().attempt
    point = _FAULTS[0](key, attempt) if _FAULTS else None
    if point == "before":
        raise ApplicationError(
            f"injected fault before {key!r} (attempt {attempt})", type=INJECTED_FAULT
        )
    entry: Entry = await apply()
    if point == "after":
        raise ApplicationError(
            f"injected fault after {key!r} (attempt {attempt})", type=INJECTED_FAULT
        )
    return entry


def _action_key() -> str:
    """The key of the action the running compensation undoes."""
    step = current_step()
    return step.step_key


@activity.defn
async def withdraw(req: TransferRequest) -> Entry:
    """Debit the source account, once."""
    key = current_idempotency_key()
    entry = Entry(
        transfer_id=req.transfer_id, account=req.source, amount=-req.amount, kind="withdraw"
    )
    return await _faulty(key, lambda: bank().post(key, entry, check="funds"))


@activity.defn
async def refund(req: TransferRequest) -> Entry:
    """Undo the withdrawal, once (a void when it never happened)."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: bank().undo(key, _action_key(), "refund"))


@activity.defn
async def deposit(req: TransferRequest) -> Entry:
    """Credit the target account, once; fail for good when it is unknown or closed."""
    key = current_idempotency_key()
    entry = Entry(
        transfer_id=req.transfer_id, account=req.target, amount=req.amount, kind="deposit"
    )
    return await _faulty(key, lambda: bank().post(key, entry, check="open"))


@activity.defn
async def reverse_deposit(req: TransferRequest) -> Entry:
    """Undo the deposit, once (a void when it never happened)."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: bank().undo(key, _action_key(), "reverse_deposit"))


#: Every activity of the example, for `Worker(activities=...)`.
ACTIVITIES = [withdraw, refund, deposit, reverse_deposit]
