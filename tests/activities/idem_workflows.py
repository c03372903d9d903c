"""A saga whose steps are `@idempotent` activities (see idem_activities)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from temporal_sagas import Saga, StepOptions

with workflow.unsafe.imports_passed_through():
    from tests.activities.idem_activities import Charge, Order, Receipt, effect, refuse, undo
    from tests.activities.parked_activities import Move, deliver, refund, withdraw

RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=20), maximum_attempts=5)


@workflow.defn
class IdemSaga:
    @workflow.run
    async def run(self, order: Order) -> list[Receipt]:
        options = StepOptions(
            start_to_close_timeout=timedelta(seconds=order.timeout_seconds), retry_policy=RETRY
        )
        saga = Saga("idem", key=order.id, action_options=options, compensation_options=options)
        charge = Charge(order=order.id, fault=order.fault)
        async with saga:
            receipts = [
                await saga.step("reserve", effect, charge, compensate=undo),
                await saga.step("charge", effect, charge, compensate=undo),
            ]
            if order.fail:
                await saga.step("ship", refuse, charge)
        return receipts


@workflow.defn
class GateSaga:
    """Stays open until signalled; lets a test hold an aggregate's saga running."""

    def __init__(self) -> None:
        self.opened = False

    @workflow.signal
    def open(self) -> None:
        self.opened = True

    @workflow.run
    async def run(self, order: Order) -> str:
        await workflow.wait_condition(lambda: self.opened)
        return order.id


@workflow.defn
class ParkedTransfer:
    """Withdraw, then a delivery that is refused: the refund runs (or parks)."""

    @workflow.run
    async def run(self, move: Move) -> None:
        options = StepOptions(start_to_close_timeout=timedelta(seconds=10), retry_policy=RETRY)
        saga = Saga(
            "parked", key=move.transfer_id, action_options=options, compensation_options=options
        )
        async with saga:
            await saga.step("withdraw", withdraw, move, compensate=refund)
            await saga.step("deliver", deliver, move)
