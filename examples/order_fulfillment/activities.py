"""Activities of the order-fulfillment saga: inventory, payments and shipping in PostgreSQL.

Every activity writes through the inbox (`PostgresStore.inbox`): its effect (a stock
update and a reservation, a charge, a shipment), a line in the order's event log and
the record of the step's idempotency key commit in one transaction. Temporal runs an
activity at least once (a worker can crash after the commit, a reply can be lost); a
retry finds its key completed, returns the recorded result and writes nothing again.

A compensation first locks the key of the action it undoes
(``current_step().step_key``), in the same transaction. If the action committed, the
compensation undoes what the action recorded; if not, it records a *void* under the
action's key, so there is nothing to undo now and an attempt of the action still in
flight (a zombie after a timeout) finds its key taken and does nothing. The saga
registers each compensation *before* its action runs, so both cases happen: a
declined card leaves nothing to refund.

The database comes from ``SAGAS_EXAMPLE_DSN`` (a libpq connection string); the
tables are created on first use, and the demo article ``BOOK-42`` is stocked then.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas import current_idempotency_key, current_step
from temporal_sagas.postgres import InboxEntry, PostgresStore

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: The environment variable holding the PostgreSQL connection string.
DSN_ENV = "SAGAS_EXAMPLE_DSN"
#: Units in stock when the tables are first created, by SKU (the starter orders BOOK-42).
STARTING_STOCK = {"BOOK-42": 1_000_000}
#: The error type of an order for more units than are in stock (non-retryable).
OUT_OF_STOCK = "OutOfStock"
#: The error type of a card the payment provider refuses (non-retryable).
PAYMENT_DECLINED = "PaymentDeclined"
#: The error type of a refund while the provider's refund API is down (retryable).
REFUND_UNAVAILABLE = "RefundUnavailable"
#: The error type of an order without a delivery address (non-retryable).
UNDELIVERABLE = "Undeliverable"
#: The error type of a late action attempt whose compensation already voided its key.
STEP_VOIDED = "StepVoided"
#: The error type of an injected transient fault (retryable).
INJECTED_FAULT = "InjectedFault"

#: Where an injected fault strikes: before the transaction, or after it committed
#: (the effect happened but the reply is lost, the case exactly-once is about).
FaultPoint = Literal["before", "after"]
#: Decides, from a step's idempotency key and attempt number, whether to fail it.
FaultHook = Callable[[str, int], FaultPoint | None]
PaymentKind = Literal["charge", "refund"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    sku text PRIMARY KEY,
    available integer NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
    idempotency_key text PRIMARY KEY,
    reservation_id text NOT NULL,
    order_id text NOT NULL,
    sku text NOT NULL REFERENCES stock (sku),
    quantity integer NOT NULL,
    released boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS payments (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    payment_id text NOT NULL,
    order_id text NOT NULL,
    amount_cents bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('charge', 'refund'))
);
CREATE TABLE IF NOT EXISTS shipments (
    idempotency_key text PRIMARY KEY,
    tracking_number text NOT NULL,
    order_id text NOT NULL,
    address text NOT NULL
);
CREATE TABLE IF NOT EXISTS order_events (
    id bigserial PRIMARY KEY,
    order_id text NOT NULL,
    idempotency_key text NOT NULL,
    effect text NOT NULL
);
-- The payment provider's refund API is down for these orders (a demo switch).
CREATE TABLE IF NOT EXISTS refund_outages (
    order_id text PRIMARY KEY
);
"""


class Order(BaseModel):
    """An order to fulfil: the saga input.

    Attributes:
        order_id: The business key; also the saga's workflow id.
        sku: The article ordered.
        quantity: How many.
        amount_cents: The price to charge.
        card: ``declined`` makes the payment provider refuse the charge.
        address: Where to ship; an empty address makes the order unconfirmable.
    """

    model_config = ConfigDict(frozen=True)

    order_id: str
    sku: str
    quantity: int
    amount_cents: int
    card: Literal["ok", "declined"] = "ok"
    address: str


class Reservation(BaseModel):
    """Stock set aside for an order."""

    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    reservation_id: str


class Payment(BaseModel):
    """A captured card payment."""

    model_config = ConfigDict(frozen=True)

    amount_cents: int
    payment_id: str


class Shipment(BaseModel):
    """A parcel handed to the carrier."""

    model_config = ConfigDict(frozen=True)

    tracking_number: str


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}"


def _unless_voided(entry: InboxEntry, type_: type[M]) -> M:
    """The result an earlier attempt of an action recorded, unless it was voided.

    Raises:
        ApplicationError: Non-retryable ``StepVoided``: the action's compensation ran
            first and took the key, so this late attempt must have no effect.
    """
    value = entry.result(object)
    if value is None:
        raise ApplicationError(
            f"step {entry.key!r} was voided by its compensation: this late attempt does nothing",
            type=STEP_VOIDED,
            non_retryable=True,
        )
    return type_.model_validate(value)


class Services:
    """The inventory, payment and shipping systems, in one PostgreSQL database.

    Args:
        dsn: A libpq connection string.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            dsn, min_size=1, max_size=10, open=False
        )
        # The key records live in the same database as the effects: one transaction.
        self.store = PostgresStore(pool=self.pool, table="order_inbox")
        self._opened = False
        # Concurrent first activities would race CREATE TABLE IF NOT EXISTS, which
        # PostgreSQL does not make safe between sessions.
        self._open_lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the pool, create the tables and stock the demo article (idempotent)."""
        if self._opened:
            return
        async with self._open_lock:
            if self._opened:
                return
            await self.pool.open(wait=True)
            async with self.pool.connection() as conn:
                await conn.execute(SCHEMA)
                for sku, available in STARTING_STOCK.items():
                    await conn.execute(
                        "INSERT INTO stock (sku, available) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (sku, available),
                    )
            await self.store.open()
            self._opened = True

    async def close(self) -> None:
        """Close the pool; `services` then hands out a new instance for this DSN.

        A closed psycopg pool cannot be opened again, so this instance is done.
        """
        if _SERVICES.get(self.dsn) is self:
            del _SERVICES[self.dsn]
        await self.pool.close()

    # -- inspection -----------------------------------------------------------------------

    async def restock(self, sku: str, available: int) -> None:
        """Set the units of ``sku`` in stock (creating the article if needed)."""
        await self.open()
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO stock (sku, available) VALUES (%s, %s)"
                " ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available",
                (sku, available),
            )

    async def stock(self, sku: str) -> int:
        """The units of ``sku`` in stock (0 for an unknown article)."""
        await self.open()
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT available FROM stock WHERE sku = %s", (sku,))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def payments(self, order_id: str) -> list[tuple[PaymentKind, int]]:
        """The charges and refunds of ``order_id``, in order: ``(kind, amount_cents)``."""
        await self.open()
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT kind, amount_cents FROM payments WHERE order_id = %s ORDER BY id",
                (order_id,),
            )
            return [(kind, int(amount)) for kind, amount in await cursor.fetchall()]

    async def history(self, order_id: str) -> list[str]:
        """The effects on ``order_id``, in commit order (``reserved``, ``charged``, ...)."""
        await self.open()
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT effect FROM order_events WHERE order_id = %s ORDER BY id", (order_id,)
            )
            return [effect for (effect,) in await cursor.fetchall()]

    async def set_refunds_down(self, order_id: str, down: bool) -> None:
        """Take the provider's refund API down for ``order_id``, or bring it back.

        The outage is the provider's state, not the saga's input: an operator who sees
        it fixed can retry the parked refund (``sagas retry``) and it goes through.
        """
        await self.open()
        async with self.pool.connection() as conn:
            if down:
                await conn.execute(
                    "INSERT INTO refund_outages (order_id) VALUES (%s) ON CONFLICT DO NOTHING",
                    (order_id,),
                )
            else:
                await conn.execute("DELETE FROM refund_outages WHERE order_id = %s", (order_id,))

    # -- actions --------------------------------------------------------------------------

    async def reserve(self, key: str, order: Order) -> Reservation:
        """Set the order's stock aside, once under ``key``.

        Raises:
            ApplicationError: Non-retryable ``OutOfStock`` when there is not enough.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return _unless_voided(done, Reservation)
            cursor = await conn.execute(
                "SELECT available FROM stock WHERE sku = %s FOR UPDATE", (order.sku,)
            )
            row = await cursor.fetchone()
            available = int(row[0]) if row else 0
            if available < order.quantity:
                raise ApplicationError(
                    f"only {available} of {order.sku} in stock, order {order.order_id} needs "
                    f"{order.quantity}",
                    type=OUT_OF_STOCK,
                    non_retryable=True,
                )
            reservation = Reservation(
                sku=order.sku, quantity=order.quantity, reservation_id=_ref("RES", key)
            )
            await conn.execute(
                "UPDATE stock SET available = available - %s WHERE sku = %s",
                (order.quantity, order.sku),
            )
            await conn.execute(
                "INSERT INTO reservations (idempotency_key, reservation_id, order_id, sku,"
                " quantity) VALUES (%s, %s, %s, %s, %s)",
                (key, reservation.reservation_id, order.order_id, order.sku, order.quantity),
            )
            await _event(conn, order, key, "reserved")
            return done.record(reservation)

    async def charge(self, key: str, order: Order) -> Payment:
        """Charge the order's card, once under ``key``.

        Raises:
            ApplicationError: Non-retryable ``PaymentDeclined`` for a declined card.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return _unless_voided(done, Payment)
            if order.card == "declined":
                raise ApplicationError(
                    f"card declined for order {order.order_id}",
                    type=PAYMENT_DECLINED,
                    non_retryable=True,
                )
            payment = Payment(amount_cents=order.amount_cents, payment_id=_ref("PAY", key))
            await _payment(conn, order, key, payment, "charge")
            await _event(conn, order, key, "charged")
            return done.record(payment)

    async def confirm(self, key: str, order: Order) -> str:
        """Confirm the order (the pivot), once under ``key``.

        Raises:
            ApplicationError: Non-retryable ``Undeliverable`` when the address is empty.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(str)
            if not order.address.strip():
                raise ApplicationError(
                    f"order {order.order_id} has no delivery address",
                    type=UNDELIVERABLE,
                    non_retryable=True,
                )
            await _event(conn, order, key, "confirmed")
            return done.record("confirmed")

    async def ship(self, key: str, order: Order) -> Shipment:
        """Hand the order to the carrier, once under ``key``."""
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(Shipment)
            shipment = Shipment(tracking_number=_ref("TRK", key))
            await conn.execute(
                "INSERT INTO shipments (idempotency_key, tracking_number, order_id, address)"
                " VALUES (%s, %s, %s, %s)",
                (key, shipment.tracking_number, order.order_id, order.address),
            )
            await _event(conn, order, key, "shipped")
            return done.record(shipment)

    # -- compensations --------------------------------------------------------------------

    async def release(self, key: str, action_key: str, order: Order) -> bool:
        """Put back the stock reserved under ``action_key``, once under ``key``.

        Returns:
            True if there was a reservation to release.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(bool)
            reservation = await self._undoable(conn, action_key, Reservation)
            if reservation is None:
                return done.record(False)
            await conn.execute(
                "UPDATE stock SET available = available + %s WHERE sku = %s",
                (reservation.quantity, reservation.sku),
            )
            await conn.execute(
                "UPDATE reservations SET released = true WHERE idempotency_key = %s",
                (action_key,),
            )
            await _event(conn, order, key, "released")
            return done.record(True)

    async def refund(self, key: str, action_key: str, order: Order) -> bool:
        """Refund the payment charged under ``action_key``, once under ``key``.

        Returns:
            True if there was a payment to refund.

        Raises:
            ApplicationError: Retryable ``RefundUnavailable`` while the provider's
                refund API is down for the order (`Services.set_refunds_down`);
                nothing is written.
        """
        await self.open()
        async with self.pool.connection() as conn, self.store.inbox(conn, key) as done:
            if done.completed:
                return done.result(bool)
            payment = await self._undoable(conn, action_key, Payment)
            if payment is None:
                return done.record(False)
            if await _refunds_down(conn, order.order_id):
                # Rolls back this transaction: no refund row, no key record.
                raise ApplicationError(
                    f"refund API unavailable; payment of order {order.order_id} not refunded",
                    type=REFUND_UNAVAILABLE,
                )
            await _payment(conn, order, key, payment, "refund")
            await _event(conn, order, key, "refunded")
            return done.record(True)

    async def _undoable(
        self, conn: AsyncConnection[Any], action_key: str, type_: type[M]
    ) -> M | None:
        """What the action under ``action_key`` recorded, or None: nothing to undo.

        Runs in the compensation's transaction (a savepoint), so the action's key row
        stays locked until the compensation commits. When the action never committed,
        a void is recorded under its key: a late attempt of the action then finds the
        key completed and does nothing. When the action may have committed after all
        (its record expired, or the saga saw it complete), `InboxEntry.void` fails
        for good instead, and the saga parks.
        """
        async with self.store.inbox(conn, action_key) as action:
            if not action.completed:
                action.void(None)
                return None
            value = action.result(object)
        return None if value is None else type_.model_validate(value)


async def _refunds_down(conn: AsyncConnection[Any], order_id: str) -> bool:
    cursor = await conn.execute("SELECT 1 FROM refund_outages WHERE order_id = %s", (order_id,))
    return await cursor.fetchone() is not None


async def _event(conn: AsyncConnection[Any], order: Order, key: str, effect: str) -> None:
    await conn.execute(
        "INSERT INTO order_events (order_id, idempotency_key, effect) VALUES (%s, %s, %s)",
        (order.order_id, key, effect),
    )


async def _payment(
    conn: AsyncConnection[Any], order: Order, key: str, payment: Payment, kind: PaymentKind
) -> None:
    await conn.execute(
        "INSERT INTO payments (idempotency_key, payment_id, order_id, amount_cents, kind)"
        " VALUES (%s, %s, %s, %s, %s)",
        (key, payment.payment_id, order.order_id, payment.amount_cents, kind),
    )


_SERVICES: dict[str, Services] = {}
_FAULTS: list[FaultHook] = []


def services(dsn: str | None = None) -> Services:
    """The process's `Services` for ``dsn`` (default: ``$SAGAS_EXAMPLE_DSN``).

    Raises:
        RuntimeError: No DSN was given and the environment variable is not set.
    """
    dsn = dsn or os.environ.get(DSN_ENV, "")
    if not dsn:
        raise RuntimeError(
            f"set {DSN_ENV} to a PostgreSQL connection string, e.g. "
            f"{DSN_ENV}='host=127.0.0.1 user=postgres dbname=shop'"
        )
    if dsn not in _SERVICES:
        _SERVICES[dsn] = Services(dsn)
    return _SERVICES[dsn]


async def close_services() -> None:
    """Close every pool this process opened (before dropping a database)."""
    for opened in list(_SERVICES.values()):
        await opened.close()


def inject_faults(hook: FaultHook | None) -> None:
    """Make activities fail transiently where ``hook`` says (None: stop injecting)."""
    _FAULTS.clear()
    if hook is not None:
        _FAULTS.append(hook)


async def _faulty(key: str, apply: Callable[[], Awaitable[T]]) -> T:
    attempt = activity.info().attempt
    point = _FAULTS[0](key, attempt) if _FAULTS else None
    if point == "before":
        raise ApplicationError(
            f"injected fault before {key!r} (attempt {attempt})", type=INJECTED_FAULT
        )
    result = await apply()
    if point == "after":
        raise ApplicationError(
            f"injected fault after {key!r} (attempt {attempt})", type=INJECTED_FAULT
        )
    return result


@activity.defn
async def reserve_inventory(order: Order) -> Reservation:
    """Set the order's stock aside, once; fails for good when there is not enough."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: services().reserve(key, order))


@activity.defn
async def release_inventory(order: Order) -> bool:
    """Put the order's reserved stock back, once; True if there was a reservation."""
    key, action_key = current_idempotency_key(), current_step().step_key
    return await _faulty(key, lambda: services().release(key, action_key, order))


@activity.defn
async def charge_payment(order: Order) -> Payment:
    """Charge the order's card, once; a declined card fails for good (``PaymentDeclined``)."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: services().charge(key, order))


@activity.defn
async def refund_payment(order: Order) -> bool:
    """Refund the order's payment, once; True if there was a payment to refund.

    Raises:
        ApplicationError: The provider's refund API is down (retryable,
            ``RefundUnavailable``). When it stays down past the retry policy the
            saga parks in NEEDS_ATTENTION for an operator.
    """
    key, action_key = current_idempotency_key(), current_step().step_key
    return await _faulty(key, lambda: services().refund(key, action_key, order))


@activity.defn
async def confirm_order(order: Order) -> str:
    """Confirm the order: the pivot. An order without an address cannot be confirmed."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: services().confirm(key, order))


@activity.defn
async def ship_order(order: Order) -> Shipment:
    """Hand the order to the carrier, once."""
    key = current_idempotency_key()
    return await _faulty(key, lambda: services().ship(key, order))


#: Every activity an order-fulfillment worker must register.
ACTIVITIES: list[Callable[..., Awaitable[Any]]] = [
    reserve_inventory,
    release_inventory,
    charge_payment,
    refund_payment,
    confirm_order,
    ship_order,
]
