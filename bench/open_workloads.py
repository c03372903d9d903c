"""Sagas that stay open after two steps, for `bench.open_sagas_memory`.

Three kinds: a framework saga waiting for a signal, a framework saga parked for an
operator because a compensation failed for good, and the hand-written baseline (two
activities, then ``workflow.wait_condition``). Each does its two steps and then
waits until released: the ``release`` signal, or an operator's ``saga_resolve``.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

from bench.workloads import RETRY, TIMEOUT, Order, StepIn, do_step, undo_step
from temporal_sagas import Saga, StepOptions

OPTIONS = StepOptions(start_to_close_timeout=TIMEOUT, retry_policy=RETRY)


@activity.defn
async def refuse_undo(step: StepIn) -> None:
    """A compensation that fails for good, so the saga parks in NEEDS_ATTENTION."""
    raise ApplicationError(f"cannot undo {step.key}:{step.index}", non_retryable=True)


@workflow.defn
class HandWrittenWaiting:
    """Two activities, then a wait for the ``release`` signal, as plain Temporal code."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run two steps, then wait until released."""
        results: list[str] = []
        for i in range(2):
            results.append(
                await workflow.execute_activity(
                    do_step,
                    StepIn(key=order.key, index=i),
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=RETRY,
                )
            )
        await workflow.wait_condition(lambda: self._released)
        return results

    @workflow.signal
    def release(self) -> None:
        """Let the workflow finish."""
        self._released = True


@workflow.defn
class FrameworkWaiting:
    """A `Saga` that did two steps and waits in `Saga.wait_condition` for ``release``."""

    def __init__(self) -> None:
        self._released = False

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run two compensable steps, then wait until released."""
        results: list[str] = []
        async with Saga(
            "open", key=order.key, action_options=OPTIONS, compensation_options=OPTIONS
        ) as saga:
            for i in range(2):
                step = StepIn(key=order.key, index=i)
                results.append(await saga.step(f"s{i}", do_step, step, compensate=undo_step))
            await saga.wait_condition(lambda: self._released)
        return results

    @workflow.signal
    def release(self) -> None:
        """Let the saga finish."""
        self._released = True


@workflow.defn
class FrameworkParked:
    """A `Saga` whose third step fails and whose second compensation fails for good.

    The saga compensates newest first, ``s1``'s compensation refuses, and the saga
    parks in NEEDS_ATTENTION until an operator retries, skips or resolves.
    """

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run two steps, fail the third, and park on the failed compensation."""
        results: list[str] = []
        async with Saga(
            "open", key=order.key, action_options=OPTIONS, compensation_options=OPTIONS
        ) as saga:
            results.append(
                await saga.step("s0", do_step, StepIn(key=order.key, index=0), compensate=undo_step)
            )
            results.append(
                await saga.step(
                    "s1", do_step, StepIn(key=order.key, index=1), compensate=refuse_undo
                )
            )
            await saga.step("s2", do_step, StepIn(key=order.key, index=2, fail=True))
        return results


KINDS: dict[str, type[Any]] = {
    "framework_waiting": FrameworkWaiting,
    "framework_parked": FrameworkParked,
    "hand_waiting": HandWrittenWaiting,
}
"""Each kind of open saga the benchmark measures, by the name its results use."""

WORKFLOWS = list(KINDS.values())
ACTIVITIES = [do_step, undo_step, refuse_undo]
