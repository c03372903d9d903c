"""One saga (``mutation-saga``) in a v1 and in mutated builds, for the replay gate's tests.

Every class registers under the same workflow name, as a new build of the same saga
would. All steps run the same activity type, so only the step names (which the
activity ids derive from) tell a reordering apart.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

from temporal_sagas import Saga, StepOptions
from tests.sagas import FAST_RETRY

NAME = "mutation-saga"
OPTIONS = StepOptions(start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY)


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    fail_at: str | None = None


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str
    fail: bool = False


@activity.defn
async def work(item: Item) -> str:
    if item.fail:
        raise ApplicationError(f"{item.step} refused", non_retryable=True)
    return f"did {item.step}"


@activity.defn
async def undo(item: Item) -> None:
    return None


@activity.defn
async def undo_v2(item: Item) -> None:
    return None


ACTIVITIES = [work, undo, undo_v2]


async def _step(saga: Saga, order: Order, name: str, compensate: object = undo) -> None:
    await saga.step(
        name,
        work,
        Item(step=name, fail=order.fail_at == name),
        compensate=compensate,  # type: ignore[arg-type]
        options=OPTIONS,
    )


def _saga(order: Order) -> Saga:
    return Saga(NAME, key=order.key, action_options=OPTIONS, compensation_options=OPTIONS)


@workflow.defn(name=NAME)
class V1:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            await _step(saga, order, "b")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class Reordered:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "b")
            await _step(saga, order, "a")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class ReorderedPatched:
    @workflow.run
    async def run(self, order: Order) -> None:
        first, second = ("b", "a") if workflow.patched("reorder-a-b") else ("a", "b")
        async with (saga := _saga(order)):
            await _step(saga, order, first)
            await _step(saga, order, second)
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class Added:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            await _step(saga, order, "b")
            await _step(saga, order, "x")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class AddedPatched:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            await _step(saga, order, "b")
            if workflow.patched("add-x"):
                await _step(saga, order, "x")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class Removed:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class RemovedPatched:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            if not workflow.patched("remove-b"):
                await _step(saga, order, "b")
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class CompensationChanged:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            await _step(saga, order, "b", compensate=undo_v2)
            await _step(saga, order, "c")


@workflow.defn(name=NAME)
class CompensationChangedPatched:
    @workflow.run
    async def run(self, order: Order) -> None:
        async with (saga := _saga(order)):
            await _step(saga, order, "a")
            new_undo = workflow.patched("undo-b-v2")
            await _step(saga, order, "b", compensate=undo_v2 if new_undo else undo)
            await _step(saga, order, "c")
