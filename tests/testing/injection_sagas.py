"""Sagas for the failure-injection tests: one that breaks the contract on purpose."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from temporal_sagas import Saga
from tests.testing.mutation_sagas import OPTIONS, Item, Order, undo, work


@workflow.defn
class SwallowingSaga:
    """Catches the failure of step b and carries on: compensates nothing, wrongly."""

    @workflow.run
    async def run(self, order: Order) -> None:
        saga = Saga("swallowing", key=order.key, action_options=OPTIONS)
        async with saga:
            await saga.step("a", work, Item(step="a"), compensate=undo)
            try:
                await saga.step("b", work, Item(step="b"), compensate=undo)
            except ActivityError:
                workflow.logger.info("ignoring b's failure")
            await saga.step("c", work, Item(step="c"), compensate=undo)
