"""Contract rules 3 and 4: a cancel compensates, and compensation always finishes."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaStatus, saga_state
from tests.sagas import (
    Script,
    StepScript,
    done,
    entries,
    new_id,
    release,
    saga_worker,
    search_status,
    start,
    wait_for,
    wait_until,
)


async def test_cancel_during_an_activity_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-act")
    script = Script(steps=(StepScript(name="a"), StepScript(name="b", action="block")))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: any(e.step == "b" for e in entries(wid, "action")))
        await handle.cancel(reason="customer changed their mind")
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        release(wid)
        state = await saga_state(handle)
        attribute = await search_status(handle)

    assert isinstance(caught.value.cause, CancelledError)
    # b's compensation was registered before b was scheduled, so it runs too.
    assert done(wid, "compensation") == ["b", "a"]
    assert state.status is SagaStatus.CANCELLED
    assert attribute == "CANCELLED"
    assert state.cancel_requested


async def test_cancel_during_a_timer_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-timer")
    script = Script(steps=(StepScript(name="a"), StepScript(name="b", sleep_before=3600)))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_for(handle, lambda s: s.steps and s.steps[0].status.value == "COMPLETED")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert isinstance(caught.value.cause, CancelledError)
    assert done(wid, "compensation") == ["a"]
    assert entries(wid, "action")[-1].step == "a"
    assert state.status is SagaStatus.CANCELLED


async def test_cancel_during_compensation_lets_every_compensation_finish(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-comp")
    script = Script(
        steps=(
            StepScript(name="a"),
            StepScript(name="b", compensation="block"),
            StepScript(name="c", action="fail"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: any(e.outcome == "blocked" for e in entries(wid, "compensation")))
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        release(wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert isinstance(caught.value.cause, CancelledError)
    assert done(wid, "compensation") == ["c", "b", "a"]
    assert state.status is SagaStatus.CANCELLED
