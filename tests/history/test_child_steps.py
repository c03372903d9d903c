"""A parent saga's child-saga steps, rebuilt from the parent's history."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaState, SagaStatus, StepStatus, saga_state
from temporal_sagas.history import audit_trail, render_saga, saga_state_from_history
from tests.history.test_state_equality import assert_same_state
from tests.sagas import (
    Script,
    ScriptedSaga,
    StepScript,
    entries,
    new_id,
    release,
    saga_worker,
    wait_until,
)
from tests.workflows.child_sagas import Family, ParentSaga

CHILDREN = {
    SagaStatus.COMPLETED: Script(saga="inventory", steps=(StepScript(name="hold"),)),
    SagaStatus.COMPENSATED: Script(
        saga="inventory", steps=(StepScript(name="hold"), StepScript(name="pick", action="fail"))
    ),
}


@pytest.mark.parametrize("status", list(CHILDREN), ids=lambda s: s.value.lower())
async def test_parent_history_gives_the_live_state_with_its_child_saga_step(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, status: SagaStatus
) -> None:
    client, wid = saga_dev_env.client, new_id(f"family-{status.value.lower()}")
    async with saga_worker(client, saga_task_queue, workflows=[ParentSaga, ScriptedSaga]):
        handle = await client.start_workflow(
            ParentSaga.run, Family(child=CHILDREN[status]), id=wid, task_queue=saga_task_queue
        )
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        live = await saga_state(handle)
        history = await handle.fetch_history()

    rebuilt = saga_state_from_history(history)
    assert live.status is status
    assert live.step("inventory").kind == "child_saga"
    assert live.step("inventory").activity == "ScriptedSaga"  # the child's workflow type
    assert_same_state(live, rebuilt)
    assert [e.event_id for e in audit_trail(history)] == [e.event_id for e in live.timeline]


async def test_saga_show_lists_a_child_saga_step_from_the_parents_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("family-show")
    family = Family(child=CHILDREN[SagaStatus.COMPLETED])
    async with saga_worker(client, saga_task_queue, workflows=[ParentSaga, ScriptedSaga]):
        handle = await client.start_workflow(
            ParentSaga.run, family, id=wid, task_queue=saga_task_queue
        )
        await handle.result()
        history = await handle.fetch_history()

    forward = render_saga(saga_state_from_history(history)).split("compensation (")[0]
    rows = [line.split("│") for line in forward.splitlines() if "│" in line]
    assert [(row[1].strip(), row[2].strip()) for row in rows] == [
        ("reserve", "act"),
        ("inventory", "ScriptedSaga"),
        ("charge", "act"),
    ]


BLOCKED_CHILD = Script(saga="inventory", steps=(StepScript(name="hold", action="block"),))


async def interrupted_family(
    client: Client,
    task_queue: str,
    wid: str,
    interrupt: Callable[[WorkflowHandle[Any, Any]], Awaitable[Any]],
) -> tuple[SagaState, WorkflowHistory]:
    """Run a parent whose child blocks in its first step, ``interrupt`` it there, and
    return the parent's live state and history once it closed."""
    async with saga_worker(client, task_queue, workflows=[ParentSaga, ScriptedSaga]):
        handle = await client.start_workflow(
            ParentSaga.run, Family(child=BLOCKED_CHILD), id=wid, task_queue=task_queue
        )
        await wait_until(lambda: any(e.step == "hold" for e in entries(f"{wid}/inventory")))
        await interrupt(handle)
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        release(f"{wid}/inventory")
        return await saga_state(handle), await handle.fetch_history()


async def test_a_terminated_child_fails_its_step_in_the_rebuild_as_it_did_live(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("family-terminated")
    child = client.get_workflow_handle(f"{wid}/inventory")

    live, history = await interrupted_family(
        client, saga_task_queue, wid, lambda _: child.terminate("operator stopped it")
    )

    assert live.status is SagaStatus.COMPENSATED
    assert_same_state(live, saga_state_from_history(history))


async def test_a_cancelled_parent_rebuilds_its_cancelled_child_step_as_it_was_live(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("family-cancelled")

    live, history = await interrupted_family(
        client, saga_task_queue, wid, lambda parent: parent.cancel()
    )

    assert live.status is SagaStatus.CANCELLED
    assert live.step("inventory").status is StepStatus.CANCELLED
    assert_same_state(live, saga_state_from_history(history))
