"""Contract rule 3: a bug in workflow code does not compensate; a fix lets the saga resume."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaStatus, saga_state
from tests.sagas import done, entries, new_id, saga_worker, task_failure_message
from tests.workflows.bug_sagas import BookingFixed, BookingWithBug


async def test_bug_in_workflow_code_does_not_compensate_and_fixed_code_resumes(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("bug")
    async with saga_worker(client, saga_task_queue, workflows=[BookingWithBug]):
        handle = await client.start_workflow(
            BookingWithBug.run, "order-1", id=wid, task_queue=saga_task_queue
        )
        message = await task_failure_message(handle)
    assert "missing" in message
    assert entries(wid, "compensation") == []

    async with saga_worker(client, saga_task_queue, workflows=[BookingFixed]):
        result = await handle.result()
        state = await saga_state(handle)

    assert result == "order-1"
    assert done(wid, "action") == ["reserve", "charge"]
    assert entries(wid, "compensation") == []
    assert state.status is SagaStatus.COMPLETED
