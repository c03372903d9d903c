"""Contract rule 3: a failed child saga compensates itself, then the parent compensates."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, ChildWorkflowError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaStatus, saga_state
from tests.sagas import Script, ScriptedSaga, StepScript, done, new_id, saga_worker
from tests.workflows.child_sagas import Family, ParentSaga


async def test_failed_child_compensates_itself_then_the_parent_compensates(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("parent")
    child = Script(
        saga="inventory", steps=(StepScript(name="hold"), StepScript(name="pick", action="fail"))
    )
    async with saga_worker(client, saga_task_queue, workflows=[ParentSaga, ScriptedSaga]):
        handle = await client.start_workflow(
            ParentSaga.run, Family(child=child), id=wid, task_queue=saga_task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        parent_state = await saga_state(handle)
        child_state = await saga_state(client.get_workflow_handle(f"{wid}/inventory"))

    child_wid = f"{wid}/inventory"
    assert done(child_wid, "compensation") == ["pick", "hold"]
    assert done(wid, "compensation") == ["reserve"]
    assert child_state.status is SagaStatus.COMPENSATED
    assert parent_state.status is SagaStatus.COMPENSATED
    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.type == "SagaCompensated"
    assert isinstance(error.cause, ChildWorkflowError)
    assert parent_state.step("inventory").kind == "child_saga"


async def test_parent_failure_after_a_completed_child_compensates_the_parents_steps(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("parent2")
    child = Script(saga="inventory", steps=(StepScript(name="hold"),))
    async with saga_worker(client, saga_task_queue, workflows=[ParentSaga, ScriptedSaga]):
        handle = await client.start_workflow(
            ParentSaga.run,
            Family(child=child, fail_after_child=True),
            id=wid,
            task_queue=saga_task_queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        child_state = await saga_state(client.get_workflow_handle(f"{wid}/inventory"))

    assert done(wid, "compensation") == ["charge", "reserve"]
    assert child_state.status is SagaStatus.COMPLETED
