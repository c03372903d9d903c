"""Contract rule 5: the pivot is the point of no return."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaStatus, StepStatus, operator_action, saga_state
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
    task_failure_message,
    wait_for,
    wait_for_status,
    wait_until,
)


def _pivoted(pivot_action: str = "ok", after: str = "ok") -> Script:
    return Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", action=pivot_action, compensation="none", pivot=True),  # type: ignore[arg-type]
            StepScript(name="notify", action=after, compensation="none"),  # type: ignore[arg-type]
        )
    )


async def test_failure_of_the_pivot_compensates_the_steps_before_it(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-fail")
    async with saga_worker(client, saga_task_queue):
        handle = await start(
            client, saga_task_queue, as_kind(_pivoted(pivot_action="fail"), step_kind), wid
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == ["reserve"]
    assert state.status is SagaStatus.COMPENSATED
    assert not state.pivot_passed


async def test_failure_after_the_pivot_is_retried_until_it_succeeds(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-retry")
    async with saga_worker(client, saga_task_queue):
        handle = await start(
            client, saga_task_queue, as_kind(_pivoted(after="fail_until_fixed"), step_kind), wid
        )
        # The step policy allows 2 attempts; after the pivot the engine lifts the limit.
        await wait_until(
            lambda: len([e for e in entries(wid, "action") if e.step == "notify"]) >= 4
        )
        FIXED.add(wid)
        await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert entries(wid, "compensation") == []
    assert state.status is SagaStatus.COMPLETED
    assert state.pivot_passed
    assert state.step("notify").after_pivot


async def test_non_retryable_failure_after_the_pivot_parks_and_only_retry_is_allowed(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-park")
    async with saga_worker(client, saga_task_queue):
        handle = await start(
            client, saga_task_queue, as_kind(_pivoted(after="fail_fatal"), step_kind), wid
        )
        parked = await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await operator_action(handle, "skip", reason="meh")
        await handle.terminate("test over")

    assert await ran_as(handle) == {step_kind}
    assert parked.parked_steps == ("notify",)
    assert parked.step("notify").status is StepStatus.FAILED
    assert "must succeed" in str(caught.value.cause)
    assert entries(wid, "compensation") == []


async def test_compensation_on_the_pivot_is_rejected_before_anything_runs(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-def")
    script = Script(steps=(StepScript(name="charge", pivot=True, compensation="ok"),))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        message = await task_failure_message(handle)
        await handle.terminate("test over")

    assert "never compensated" in message
    assert entries(wid) == []


async def test_compensation_after_the_pivot_is_rejected_and_nothing_is_compensated(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-after")
    script = Script(
        steps=(
            StepScript(name="charge", pivot=True, compensation="none"),
            StepScript(name="ship", compensation="ok"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        message = await task_failure_message(handle)
        await handle.terminate("test over")

    assert await ran_as(handle) == {step_kind}
    assert "comes after the pivot" in message
    assert await ran_as(handle) == {step_kind}
    if step_kind == "activity":
        assert [e.step for e in entries(wid)] == ["charge"]
    else:
        # A local activity's result is kept only when the workflow task that ran it
        # completes; this one failed, so each retry of the task ran charge again.
        assert {(e.step, e.key) for e in entries(wid)} == {("charge", f"scripted/{wid}/charge")}


async def test_cancel_while_the_pivot_runs_waits_for_it_and_then_goes_forward(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-cancel")
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", action="block", compensation="none", pivot=True),
            StepScript(name="notify", compensation="none"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_until(lambda: any(e.step == "charge" for e in entries(wid, "action")))
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        release(wid)
        await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "action") == ["reserve", "charge", "notify"]
    assert entries(wid, "compensation") == []
    assert state.status is SagaStatus.COMPLETED
    assert state.cancel_requested


async def test_cancel_during_a_saga_sleep_after_the_pivot_is_ignored(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-sleep")
    script = Script(
        steps=(
            StepScript(name="charge", compensation="none", pivot=True),
            StepScript(name="notify", compensation="none", sleep_before=2),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for(handle, lambda s: s.pivot_passed)
        await handle.cancel()
        await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "action") == ["charge", "notify"]
    assert state.status is SagaStatus.COMPLETED
    assert state.cancel_requested


async def test_cancel_while_the_pivot_runs_and_the_pivot_fails_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("pivot-cancel-fail")
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", action="block_then_fail", compensation="none", pivot=True),
            StepScript(name="notify", compensation="none"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_until(lambda: any(e.step == "charge" for e in entries(wid, "action")))
        await handle.cancel()
        await wait_for(handle, lambda s: s.cancel_requested)
        release(wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        events = await event_types(handle)

    assert await ran_as(handle) == {step_kind}
    # The pivot was not cut short: it reached its own failure, so nothing was passed.
    assert [e.outcome for e in entries(wid, "action") if e.step == "charge"] == [
        "blocked",
        "failed",
    ]
    assert done(wid, "action") == ["reserve"]
    assert done(wid, "compensation") == ["reserve"]
    assert isinstance(caught.value.cause, CancelledError)
    assert events[-1] == "WORKFLOW_EXECUTION_CANCELED"
    assert await search_status(handle) == "CANCELLED"
