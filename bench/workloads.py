"""The same N-step saga twice: hand-written (as Temporal's samples teach) and with the framework."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from temporal_sagas import Saga, StepOptions

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=50))


class Order(BaseModel):
    """One saga's input: how many steps, and which one (if any) fails."""

    model_config = ConfigDict(frozen=True)

    key: str
    steps: int = 3
    fail_at: int | None = None
    lean: bool = False  # framework only: no live audit log, no search attributes


class StepIn(BaseModel):
    """What each step activity receives."""

    model_config = ConfigDict(frozen=True)

    key: str
    index: int
    fail: bool = False


@activity.defn
async def do_step(step: StepIn) -> str:
    """A no-op action, failing for good when told to."""
    if step.fail:
        raise ApplicationError("declined", non_retryable=True)
    return f"{step.key}:{step.index}"


@activity.defn
async def undo_step(step: StepIn) -> None:
    """A no-op compensation."""


@workflow.defn
class HandWrittenSaga:
    """try/except and a reversed list of compensations."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run the steps; on failure undo the registered ones newest first."""
        undo: list[StepIn] = []
        results: list[str] = []
        try:
            for i in range(order.steps):
                step = StepIn(key=order.key, index=i, fail=i == order.fail_at)
                undo.append(step)
                results.append(
                    await workflow.execute_activity(
                        do_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                    )
                )
        except ActivityError:
            for step in reversed(undo):
                await workflow.execute_activity(
                    undo_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                )
            raise
        return results


@workflow.defn
class FrameworkSaga:
    """The same saga with `temporal_sagas.Saga`."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run the steps through the saga engine."""
        options = StepOptions(start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        results: list[str] = []
        async with Saga(
            "bench",
            key=order.key,
            action_options=options,
            compensation_options=options,
            audit_log=not order.lean,
            search_attributes=not order.lean,
        ) as saga:
            for i in range(order.steps):
                step = StepIn(key=order.key, index=i, fail=i == order.fail_at)
                results.append(await saga.step(f"s{i}", do_step, step, compensate=undo_step))
        return results


@workflow.defn
class HandWrittenSagaAgain:
    """The hand-written saga under a second name, for the benchmark's A/A check."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run exactly what `HandWrittenSaga` runs."""
        return await HandWrittenSaga().run(order)
