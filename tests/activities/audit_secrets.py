"""A saga whose input and step result carry secrets, and whose activity logs both."""

from __future__ import annotations

from datetime import timedelta

import structlog
from pydantic import BaseModel, ConfigDict, SecretStr
from temporalio import activity, workflow

from temporal_sagas import Saga, StepOptions

INPUT_TOKEN = "tok-INPUT-5f2c9a"
CARD = "4111111111111111"
RESULT_TOKEN = "tok-RESULT-88e1d0"


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: str
    api_token: SecretStr
    card_number: str


class Charged(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: str
    refresh_token: str
    receipt: SecretStr


@activity.defn
async def charge(payment: Payment) -> Charged:
    result = Charged(
        order=payment.order, refresh_token=RESULT_TOKEN, receipt=SecretStr(f"r-{RESULT_TOKEN}")
    )
    # What a user might log: the whole input and result, secrets included.
    structlog.get_logger("shop").info("charged", payment=payment, result=result.model_dump())
    return result


@activity.defn
async def refund(payment: Payment) -> None:
    return None


@workflow.defn
class PaySaga:
    @workflow.run
    async def run(self, payment: Payment) -> Charged:
        options = StepOptions(start_to_close_timeout=timedelta(seconds=10))
        async with Saga("pay", key=payment.order) as saga:
            result: Charged = await saga.step(
                "charge", charge, payment, compensate=refund, options=options
            )
            return result
