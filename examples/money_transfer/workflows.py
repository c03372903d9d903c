"""The transfer saga: withdraw, then deposit; a refused deposit refunds the withdrawal."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict

    from examples.money_transfer.activities import (
        ACCOUNT_UNAVAILABLE,
        INSUFFICIENT_FUNDS,
        Entry,
        TransferRequest,
        deposit,
        refund,
        reverse_deposit,
        withdraw,
    )
    from temporal_sagas import Saga, StepOptions

#: The task queue the money-transfer worker polls.
TASK_QUEUE = "money-transfer"

# Short timeouts and intervals: a step whose worker died is retried within seconds.
# The activities are exactly-once, so retrying generously is safe.
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=1),
    maximum_attempts=20,
    non_retryable_error_types=[ACCOUNT_UNAVAILABLE, INSUFFICIENT_FUNDS],
)
# The activities finish in milliseconds and never heartbeat: the heartbeat timeout only
# makes Temporal notice an attempt lost with its worker after 2 s instead of 5 s.
OPTIONS = StepOptions(
    start_to_close_timeout=timedelta(seconds=5),
    heartbeat_timeout=timedelta(seconds=2),
    retry_policy=RETRY,
)


class TransferReceipt(BaseModel):
    """The two ledger entries of a completed transfer."""

    model_config = ConfigDict(frozen=True)

    withdrawn: Entry
    deposited: Entry


@workflow.defn
class Transfer:
    """Move money between two accounts, or leave both as they were."""

    @workflow.run
    async def run(self, req: TransferRequest) -> TransferReceipt:
        """Withdraw from the source, then deposit to the target.

        Args:
            req: The transfer; ``req.transfer_id`` is the saga's business key.

        Returns:
            The ledger entries of the withdrawal and the deposit.

        Raises:
            temporalio.exceptions.ApplicationError: Of type ``SagaCompensated`` when the
                deposit was refused and the withdrawal refunded.
        """
        saga = Saga(
            "transfer",
            key=req.transfer_id,
            action_options=OPTIONS,
            compensation_options=OPTIONS,
        )
        async with saga:
            withdrawn = await saga.step("withdraw", withdraw, req, compensate=refund)
            deposited = await saga.step("deposit", deposit, req, compensate=reverse_deposit)
        return TransferReceipt(withdrawn=withdrawn, deposited=deposited)
