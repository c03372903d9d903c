"""Activities of the order-fulfillment saga: inventory, payment and shipping services.

The services are in-memory stand-ins; what makes them safe to retry is the
`idempotent` guard on every activity. Temporal runs an activity at least once (a
worker can crash after the effect, a reply can be lost); the guard records each
outcome under the step's idempotency key in a SQLite store, so a retry returns the
recorded result instead of reserving, charging or shipping twice.

A compensation finds what to undo by the key of the action it undoes
(``current_step().step_key``), so it works even when the action's result was never
recorded, and it tolerates "nothing to undo": the saga registers each compensation
*before* its action runs, so a compensation may run for an action that never took
effect.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas import current_idempotency_key, current_step
from temporal_sagas.activities import IdempotencyStore, SQLiteStore, idempotent

#: Where the idempotency records live unless ``ORDER_FULFILLMENT_DB`` says otherwise.
DEFAULT_DB = Path(tempfile.gettempdir()) / "temporal-sagas-order-fulfillment.sqlite3"


class Order(BaseModel):
    """An order to fulfil: the saga input.

    Attributes:
        order_id: The business key; also the saga's workflow id.
        sku: The article ordered.
        quantity: How many.
        amount_cents: The price to charge.
        card: ``declined`` makes the payment provider refuse the charge.
        address: Where to ship; an empty address makes the order unconfirmable.
        refunds_down: Make the provider's refund API fail for this order, to see the
            saga park for an operator.
    """

    model_config = ConfigDict(frozen=True)

    order_id: str
    sku: str
    quantity: int
    amount_cents: int
    card: Literal["ok", "declined"] = "ok"
    address: str
    refunds_down: bool = False


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


@dataclass
class Services:
    """The inventory, payment and shipping systems, in memory.

    Attributes:
        stock: Units available, by SKU.
        reservations: Live reservations, by the idempotency key that made them.
        payments: Captured payments, by the idempotency key that made them.
        log: Every effect, in order: ``(order_id, effect)``.
    """

    stock: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)

    def history(self, order_id: str) -> list[str]:
        """The effects on ``order_id``, in order."""
        return [effect for order, effect in self.log if order == order_id]


#: The services the activities of this worker process talk to.
SERVICES = Services(stock={"BOOK-42": 1_000_000})
_store: IdempotencyStore | None = None


def store() -> IdempotencyStore:
    """The idempotency store of this process (``$ORDER_FULFILLMENT_DB`` or a temp file)."""
    global _store
    if _store is None:
        _store = SQLiteStore(os.environ.get("ORDER_FULFILLMENT_DB", DEFAULT_DB))
    return _store


@activity.defn
@idempotent(store)
async def reserve_inventory(order: Order) -> Reservation:
    """Set the order's stock aside; fails for good when there is not enough."""
    available = SERVICES.stock.get(order.sku, 0)
    if available < order.quantity:
        raise ApplicationError(
            f"only {available} of {order.sku} in stock, order {order.order_id} needs "
            f"{order.quantity}",
            type="OutOfStock",
            non_retryable=True,
        )
    key = current_idempotency_key()
    SERVICES.stock[order.sku] = available - order.quantity
    reservation = Reservation(
        sku=order.sku, quantity=order.quantity, reservation_id=_ref("RES", key)
    )
    SERVICES.reservations[key] = reservation
    SERVICES.log.append((order.order_id, "reserved"))
    return reservation


@activity.defn
@idempotent(store)
async def release_inventory(order: Order) -> bool:
    """Put the order's reserved stock back; True if there was a reservation to release."""
    reservation = SERVICES.reservations.pop(current_step().step_key, None)
    if reservation is None:
        return False
    SERVICES.stock[reservation.sku] = SERVICES.stock.get(reservation.sku, 0) + reservation.quantity
    SERVICES.log.append((order.order_id, "released"))
    return True


@activity.defn
@idempotent(store)
async def charge_payment(order: Order) -> Payment:
    """Charge the order's card; a declined card fails for good (``PaymentDeclined``)."""
    if order.card == "declined":
        raise ApplicationError(
            f"card declined for order {order.order_id}",
            type="PaymentDeclined",
            non_retryable=True,
        )
    key = current_idempotency_key()
    payment = Payment(amount_cents=order.amount_cents, payment_id=_ref("PAY", key))
    SERVICES.payments[key] = payment
    SERVICES.log.append((order.order_id, "charged"))
    return payment


@activity.defn
@idempotent(store)
async def refund_payment(order: Order) -> bool:
    """Refund the order's payment; True if there was a payment to refund.

    Raises:
        ApplicationError: The provider's refund API is down (retryable,
            ``RefundUnavailable``). When it stays down past the retry policy the
            saga parks in NEEDS_ATTENTION for an operator.
    """
    key = current_step().step_key
    if key not in SERVICES.payments:
        return False
    if order.refunds_down:
        raise ApplicationError(
            f"refund API unavailable; payment of order {order.order_id} not refunded",
            type="RefundUnavailable",
        )
    del SERVICES.payments[key]
    SERVICES.log.append((order.order_id, "refunded"))
    return True


@activity.defn
@idempotent(store)
async def confirm_order(order: Order) -> str:
    """Confirm the order: the pivot. An order without an address cannot be confirmed."""
    if not order.address.strip():
        raise ApplicationError(
            f"order {order.order_id} has no delivery address",
            type="Undeliverable",
            non_retryable=True,
        )
    SERVICES.log.append((order.order_id, "confirmed"))
    return "confirmed"


@activity.defn
@idempotent(store)
async def ship_order(order: Order) -> Shipment:
    """Hand the order to the carrier."""
    SERVICES.log.append((order.order_id, "shipped"))
    return Shipment(tracking_number=_ref("TRK", current_idempotency_key()))


#: Every activity an order-fulfillment worker must register.
ACTIVITIES: list[Callable[..., Awaitable[Any]]] = [
    reserve_inventory,
    release_inventory,
    charge_payment,
    refund_payment,
    confirm_order,
    ship_order,
]
