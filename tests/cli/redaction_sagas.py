"""A payment saga whose failure quotes a card number and whose input carries one."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from temporal_sagas import Saga, StepOptions

CARD = "4111 1111 1111 1111"

ONCE = StepOptions(
    start_to_close_timeout=timedelta(seconds=10), retry_policy=RetryPolicy(maximum_attempts=1)
)


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: str
    card_number: str


@activity.defn
async def hold(payment: Payment) -> str:
    return f"hold-{payment.order}"


@activity.defn
async def release(payment: Payment, held: str | None) -> None:
    raise ApplicationError("the hold service is down", non_retryable=True)


@activity.defn
async def charge(payment: Payment) -> str:
    raise ApplicationError(f"card {payment.card_number} declined", non_retryable=True)


@activity.defn
async def refund(payment: Payment, charged: str | None) -> None:
    return None


@workflow.defn
class PaySaga:
    @workflow.run
    async def run(self, payment: Payment) -> str:
        saga = Saga("pay", key=payment.order, action_options=ONCE, compensation_options=ONCE)
        async with saga:
            await saga.step("hold", hold, payment, compensate=release)
            return await saga.step("charge", charge, payment, compensate=refund)


ACTIVITIES = [hold, release, charge, refund]
