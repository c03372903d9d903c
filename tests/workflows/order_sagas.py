"""Sagas whose step order changed between versions, for replay tests; and a hand-written twin."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from temporal_sagas import Saga
from tests.sagas import ACTION_OPTIONS, Call, Outcome, Receipt, act, undo_ok


@workflow.defn(name="TwoSteps")
class TwoSteps:
    @workflow.run
    async def run(self, key: str) -> str:
        async with Saga("two", key=key) as saga:
            for name in ("first", "second"):
                await saga.step(
                    name,
                    act,
                    Call(step=name, mode="ok"),
                    compensate=undo_ok,
                    options=ACTION_OPTIONS,
                )
        return key


@workflow.defn(name="TwoSteps")
class TwoStepsSwapped:
    @workflow.run
    async def run(self, key: str) -> str:
        async with Saga("two", key=key) as saga:
            for name in ("second", "first"):
                await saga.step(
                    name,
                    act,
                    Call(step=name, mode="ok"),
                    compensate=undo_ok,
                    options=ACTION_OPTIONS,
                )
        return key


@workflow.defn
class HandWrittenSaga:
    """The pattern Temporal's samples teach: try/except and a reversed list."""

    @workflow.run
    async def run(self, steps: list[str]) -> Outcome:
        compensations: list[Call] = []
        receipts: list[Receipt] = []
        try:
            for name in steps:
                call = Call(step=name, mode="ok")
                compensations.append(call)
                receipts.append(
                    await workflow.execute_activity(
                        act,
                        call,
                        start_to_close_timeout=ACTION_OPTIONS.start_to_close_timeout,
                        retry_policy=ACTION_OPTIONS.retry_policy,
                    )
                )
        except ActivityError:
            for call in reversed(compensations):
                await workflow.execute_activity(
                    undo_ok,
                    args=[call, None],
                    start_to_close_timeout=ACTION_OPTIONS.start_to_close_timeout,
                )
            raise
        return Outcome(receipts=tuple(receipts))
