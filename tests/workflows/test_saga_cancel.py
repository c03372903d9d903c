"""Contract rules 3 and 4: a cancel compensates, and compensation always finishes."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import (
    SAGA_COMPENSATION_FAILED,
    SAGA_STATUS,
    CompensationPolicy,
    SagaStatus,
    operator_action,
    saga_state,
)
from tests.sagas import (
    FIXED,
    Script,
    StepKind,
    StepScript,
    as_kind,
    done,
    entries,
    event_types,
    new_id,
    ran_as,
    release,
    saga_worker,
    search_status,
    start,
    wait_for,
    wait_for_status,
    wait_until,
)


async def test_cancel_during_an_activity_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-act")
    script = Script(steps=(StepScript(name="a"), StepScript(name="b", action="block")))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_until(lambda: any(e.step == "b" for e in entries(wid, "action")))
        await handle.cancel(reason="customer changed their mind")
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        release(wid)
        state = await saga_state(handle)
        attribute = await search_status(handle)

    assert await ran_as(handle) == {step_kind}
    assert isinstance(caught.value.cause, CancelledError)
    # b's compensation was registered before b was scheduled, so it runs too.
    assert done(wid, "compensation") == ["b", "a"]
    assert state.status is SagaStatus.CANCELLED
    assert attribute == "CANCELLED"
    assert state.cancel_requested


async def test_cancel_during_a_timer_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-timer")
    script = Script(steps=(StepScript(name="a"), StepScript(name="b", sleep_before=3600)))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for(handle, lambda s: s.steps and s.steps[0].status.value == "COMPLETED")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert isinstance(caught.value.cause, CancelledError)
    assert done(wid, "compensation") == ["a"]
    assert entries(wid, "action")[-1].step == "a"
    assert state.status is SagaStatus.CANCELLED


async def test_cancel_during_compensation_lets_every_compensation_finish(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
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
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_until(lambda: any(e.outcome == "blocked" for e in entries(wid, "compensation")))
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        release(wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert isinstance(caught.value.cause, CancelledError)
    assert done(wid, "compensation") == ["c", "b", "a"]
    assert state.status is SagaStatus.CANCELLED


async def test_cancel_during_parallel_compensation_lets_every_compensation_finish(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-par")
    script = Script(
        steps=(
            StepScript(name="a"),
            StepScript(name="b", compensation="block"),
            StepScript(name="c", action="fail"),
        ),
        policy=CompensationPolicy.PARALLEL,
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        # In parallel, a and c are undone while b's compensation still runs.
        await wait_until(lambda: sorted(done(wid, "compensation")) == ["a", "c"])
        await wait_until(lambda: any(e.outcome == "blocked" for e in entries(wid, "compensation")))
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        release(wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        events = await event_types(handle)

    assert await ran_as(handle) == {step_kind}
    assert isinstance(caught.value.cause, CancelledError)
    # b's compensation was not cancelled: it ran to its own end.
    undo_b = [e.outcome for e in entries(wid, "compensation") if e.step == "b"]
    assert undo_b == ["blocked", "ok"]
    assert "ACTIVITY_TASK_CANCEL_REQUESTED" not in events
    assert events[-1] == "WORKFLOW_EXECUTION_CANCELED"
    assert await search_status(handle) == "CANCELLED"


async def test_cancel_while_parked_waits_for_the_operator_then_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-parked")
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation="fail_until_fixed"),
            StepScript(name="ship", action="fail"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        described = await handle.describe()
        events_while_parked = await event_types(handle)
        undone_while_parked = done(wid, "compensation")
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="card API back")
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        events = await event_types(handle)

    assert await ran_as(handle) == {step_kind}
    # The cancel reached the run, which stayed open and parked.
    assert "WORKFLOW_EXECUTION_CANCEL_REQUESTED" in events_while_parked
    assert described.status is not None
    assert described.status.name == "RUNNING"
    assert described.typed_search_attributes.get(SAGA_STATUS) == "NEEDS_ATTENTION"
    assert undone_while_parked == ["ship"]
    # After the retry every compensation finished, and the cancel decided the outcome.
    assert done(wid, "compensation") == ["ship", "charge", "reserve"]
    assert isinstance(caught.value.cause, CancelledError)
    assert events[-1] == "WORKFLOW_EXECUTION_CANCELED"
    assert await search_status(handle) == "CANCELLED"


async def test_cancel_during_a_wait_before_the_pivot_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-wait")
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation="none", pivot=True),
            StepScript(name="notify", compensation="none"),
        ),
        hold_after="reserve",
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for(handle, lambda s: bool(s.steps) and s.steps[0].status.value == "COMPLETED")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        events = await event_types(handle)

    assert await ran_as(handle) == {step_kind}
    assert isinstance(caught.value.cause, CancelledError)
    assert [e.step for e in entries(wid, "action")] == ["reserve"]
    assert done(wid, "compensation") == ["reserve"]
    assert events[-1] == "WORKFLOW_EXECUTION_CANCELED"
    assert await search_status(handle) == "CANCELLED"


async def test_cancel_without_parking_and_a_failing_compensation_fails_with_the_report(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("cancel-nopark")
    script = Script(
        steps=(StepScript(name="a", compensation="fail"), StepScript(name="b", action="block")),
        park_on_failure=False,
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_until(lambda: any(e.step == "b" for e in entries(wid, "action")))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        release(wid)
        history = await handle.fetch_history()

    assert await ran_as(handle) == {step_kind}
    # An undo that failed outweighs the cancel: the run fails, naming what is left.
    [failure] = [
        e.workflow_execution_failed_event_attributes.failure
        for e in history.events
        if e.HasField("workflow_execution_failed_event_attributes")
    ]
    assert failure.application_failure_info.type == SAGA_COMPENSATION_FAILED
    assert any(
        e.HasField("workflow_execution_cancel_requested_event_attributes") for e in history.events
    )
    assert caught.value.cause.details[0]["failed"] == ["a"]
    assert caught.value.cause.details[0]["compensated"] == ["b"]
    assert [e.attempt for e in entries(wid, "compensation") if e.step == "a"] == [1, 2]
    assert await search_status(handle) == "FAILED"
