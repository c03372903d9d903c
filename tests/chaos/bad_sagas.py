"""Sagas fed bad input for the bad-input suite: each records what its activities did.

The activities run in the test process and append to `JOURNAL`, so a test can
assert that a saga that failed left nothing half-done (every effect undone).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from temporal_sagas import Saga, StepOptions

#: (workflow id, what happened) for every activity run, in order.
JOURNAL: list[tuple[str, str]] = []

FAST = StepOptions(
    start_to_close_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=20)),
)


class Order(BaseModel):
    """A saga input with constraints a caller can violate."""

    model_config = ConfigDict(frozen=True)

    order_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    note: str = ""


class Receipt(BaseModel):
    """What `reserve` and `charge` return."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    step: str


def effects(workflow_id: str) -> list[str]:
    """What the activities did for one saga, in order."""
    return [what for wid, what in JOURNAL if wid == workflow_id]


def _note(what: str) -> None:
    JOURNAL.append((activity.info().workflow_id or "", what))


@activity.defn
async def reserve(order: Order) -> Receipt:
    """An effect that the saga must undo when a later step fails."""
    _note("reserved")
    return Receipt(order_id=order.order_id, step="reserve")


@activity.defn
async def release(order: Order) -> None:
    """Undo `reserve`."""
    _note("released")


@activity.defn
async def charge_wrongly(order: Order) -> Receipt:
    """Claims to return a `Receipt` but returns something else (the bug under test)."""
    _note("charge attempted")
    return {"unexpected": order.quantity}  # type: ignore[return-value]


@workflow.defn
class ReserveThenUnknown:
    """Reserves, then runs a step whose activity name no worker registers."""

    @workflow.run
    async def run(self, order: Order) -> Receipt:
        """Run the two steps."""
        saga = Saga("reserve-then-unknown", key=order.order_id, action_options=FAST)
        async with saga:
            await saga.step("reserve", reserve, order, compensate=release)
            return await saga.step("charge", "no_such_activity", order, result_type=Receipt)


@workflow.defn
class ReserveThenWrongType:
    """Reserves, then runs a step whose activity returns the wrong type."""

    @workflow.run
    async def run(self, order: Order) -> Receipt:
        """Run the two steps."""
        saga = Saga("reserve-then-wrong-type", key=order.order_id, action_options=FAST)
        async with saga:
            await saga.step("reserve", reserve, order, compensate=release)
            return await saga.step("charge", charge_wrongly, order)


WORKFLOWS = [ReserveThenUnknown, ReserveThenWrongType]
ACTIVITIES = [reserve, release, charge_wrongly]
