"""A saga that handles card numbers, for tests that no card number reaches history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from temporal_sagas import Saga, StepOptions

CARD = "4111111111111111"


class Order(BaseModel):
    card: str = Field(pattern=r"^\d{16}$")
    amount: int = Field(gt=0)


@activity.defn(name="charge_card")
async def charge_card(order: Order) -> str:
    # The processor's message quotes the card, as real ones do.
    raise ApplicationError(f"card {order.card} declined", non_retryable=True)


@workflow.defn
class CardSaga:
    @workflow.run
    async def run(self, raw: dict[str, Any]) -> str:
        try:
            order = Order.model_validate(raw)
        except ValidationError as err:
            # pydantic's message quotes the offending input value.
            raise ApplicationError(f"invalid order: {err}", non_retryable=True) from None
        saga = Saga(
            "card",
            action_options=StepOptions(
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            ),
        )
        async with saga:
            return await saga.step("charge", charge_card, order, compensate=None)
