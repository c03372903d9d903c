"""Contract rule 2's options: continue_on_error and parallel compensation."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import CompensationPolicy, CompensationStatus, SagaStatus, operator_action
from tests.sagas import (
    FIXED,
    Script,
    StepScript,
    entries,
    new_id,
    saga_worker,
    start,
    wait_for_status,
)


def _script(policy: CompensationPolicy, *, park: bool) -> Script:
    return Script(
        steps=(
            StepScript(name="a", compensation="fail"),
            StepScript(name="b", compensation="ok"),
            StepScript(name="c", compensation="fail"),
            StepScript(name="d", action="fail"),
        ),
        policy=policy,
        park_on_failure=park,
    )


async def test_continue_on_error_attempts_every_compensation_and_reports_all_failures(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("coe")
    script = _script(CompensationPolicy.CONTINUE_ON_ERROR, park=False)
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()

    first_attempts = [e.step for e in entries(wid, "compensation") if e.attempt == 1]
    assert first_attempts == ["d", "c", "b", "a"]
    report = caught.value.cause.details[0]
    assert report["failed"] == ["c", "a"]
    assert report["compensated"] == ["d", "b"]


async def test_parallel_schedules_every_compensation_in_one_workflow_task(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("par")
    script = _script(CompensationPolicy.PARALLEL, park=False)
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        history = await handle.fetch_history()

    scheduled = [
        i
        for i, e in enumerate(history.events)
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_id.endswith("/compensate")
    ]
    # Four compensations scheduled back to back: one workflow task started them all.
    assert len(scheduled) == 4
    assert scheduled == list(range(scheduled[0], scheduled[0] + 4))
    report = caught.value.cause.details[0]
    assert sorted(report["failed"]) == ["a", "c"]
    assert sorted(report["compensated"]) == ["b", "d"]


async def test_parallel_failures_park_together_and_one_retry_reruns_them_all(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("parpark")
    script = Script(
        steps=(
            StepScript(name="a", compensation="fail_until_fixed"),
            StepScript(name="b", compensation="fail_until_fixed"),
            StepScript(name="c", action="fail"),
        ),
        policy=CompensationPolicy.PARALLEL,
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        parked = await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="dependency restored")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        final = await wait_for_status(handle, SagaStatus.COMPENSATED)

    assert sorted(parked.parked_steps) == ["a", "b"]
    assert all(
        final.step(n).compensation.status is CompensationStatus.COMPLETED for n in ("a", "b", "c")
    )
