"""Two versions of one saga type: the first has a bug in workflow code, the second is fixed."""

from __future__ import annotations

from temporalio import workflow

from temporal_sagas import Saga
from tests.sagas import ACTION_OPTIONS, Call, act, undo_ok


@workflow.defn(name="BookingWithBug")
class BookingWithBug:
    @workflow.run
    async def run(self, order: str) -> str:
        async with Saga("booking") as saga:
            await saga.step(
                "reserve",
                act,
                Call(step="reserve", mode="ok"),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
            totals: dict[str, int] = {}
            _ = totals["missing"]  # the bug: a KeyError, not a Temporal failure
            await saga.step(
                "charge",
                act,
                Call(step="charge", mode="ok"),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
        return order


@workflow.defn(name="BookingWithBug")
class BookingFixed:
    @workflow.run
    async def run(self, order: str) -> str:
        async with Saga("booking") as saga:
            await saga.step(
                "reserve",
                act,
                Call(step="reserve", mode="ok"),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
            await saga.step(
                "charge",
                act,
                Call(step="charge", mode="ok"),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
        return order
