"""Contract rules 1, 2 and 8: register before acting, newest first, outcomes."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import (
    SAGA_COMPENSATED,
    CompensationStatus,
    SagaEventKind,
    SagaStatus,
    StepStatus,
    saga_state,
)
from temporal_sagas.history import saga_state_from_history
from tests.sagas import (
    Script,
    StepKind,
    StepScript,
    as_kind,
    done,
    entries,
    new_id,
    ran_as,
    saga_worker,
    search_status,
    start,
)

STEPS = ("reserve", "charge", "ship")


async def test_all_steps_succeed_without_compensation(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("ok")
    script = Script(steps=tuple(StepScript(name=n) for n in STEPS))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        outcome = await handle.result()
        state = await saga_state(handle)
        attribute = await search_status(handle)

    assert await ran_as(handle) == {step_kind}
    assert [r.step for r in outcome.receipts] == list(STEPS)
    assert entries(wid, "compensation") == []
    assert state.status is SagaStatus.COMPLETED
    assert attribute == "COMPLETED"
    assert [s.status for s in state.steps] == [StepStatus.COMPLETED] * 3
    assert not any(e.kind is SagaEventKind.COMPENSATION_SCHEDULED for e in state.timeline)


@pytest.mark.parametrize("failing", range(len(STEPS)))
async def test_failed_step_compensates_itself_and_earlier_steps_newest_first(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, failing: int, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id(f"fail{failing}")
    steps = tuple(
        StepScript(name=n, action="fail" if i == failing else "ok") for i, n in enumerate(STEPS)
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(Script(steps=steps), step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    expected = list(reversed(STEPS[: failing + 1]))
    assert done(wid, "compensation") == expected
    assert state.compensation_order == expected
    assert state.status is SagaStatus.COMPENSATED
    # The failing action was retried by its policy (2 attempts) before compensation.
    assert [e.attempt for e in entries(wid, "action") if e.step == STEPS[failing]] == [1, 2]
    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.type == SAGA_COMPENSATED
    # A regular activity's failure comes wrapped in an ActivityError; the SDK hands a
    # local activity's own failure to the workflow unwrapped.
    cause = error.cause.cause if step_kind == "activity" else error.cause
    assert isinstance(error.cause, ActivityError if step_kind == "activity" else ApplicationError)
    assert isinstance(cause, ApplicationError)
    assert cause.message == f"{STEPS[failing]} refused"
    assert error.details[0]["compensated"] == expected


@pytest.mark.parametrize("failing", range(len(STEPS)))
async def test_compensate_on_success_skips_the_failed_steps_own_compensation(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, failing: int, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id(f"atomic{failing}")
    steps = tuple(
        StepScript(
            name=n,
            action="fail" if i == failing else "ok",
            compensate_on="success" if i == failing else "attempt",
        )
        for i, n in enumerate(STEPS)
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(Script(steps=steps), step_kind), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == list(reversed(STEPS[:failing]))
    assert state.step(STEPS[failing]).compensation is None
    assert state.status is SagaStatus.COMPENSATED


async def test_compensation_receives_the_actions_result_when_one_was_recorded(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("result")
    steps = (StepScript(name="reserve"), StepScript(name="charge", action="fail"))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(Script(steps=steps), step_kind), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    assert await ran_as(handle) == {step_kind}
    seen = {e.step: e.receipt_seen for e in entries(wid, "compensation")}
    assert seen == {"reserve": True, "charge": False}


async def test_action_that_took_effect_then_timed_out_is_compensated_with_its_key(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("timeout")
    steps = (StepScript(name="reserve"), StepScript(name="charge", action="timeout_after_effect"))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(Script(steps=steps), step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    effect = next(e for e in entries(wid, "action") if e.step == "charge")
    undo = next(e for e in entries(wid, "compensation") if e.step == "charge")
    assert effect.outcome == "ok"  # the effect happened before the timeout
    assert undo.step_key == effect.key
    assert undo.key == f"{effect.key}/compensate"
    assert state.step("charge").compensation is not None
    assert state.step("charge").compensation.status is CompensationStatus.COMPLETED
    failure = state.step("charge").failure
    assert failure is not None
    if step_kind == "activity":
        assert any(c.startswith("TimeoutError") for c in failure.causes), failure
    else:  # the local activity's worker timed it out: the failure is the timeout itself
        assert failure.type == "TimeoutError", failure
    assert isinstance(caught.value.cause.cause, ActivityError)


async def test_explicit_abort_compensates_completed_steps(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("abort")
    script = Script(steps=tuple(StepScript(name=n) for n in STEPS), abort_after="charge")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == ["charge", "reserve"]
    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.type == SAGA_COMPENSATED
    assert isinstance(error.cause, ApplicationError)
    assert error.cause.type == "SagaAborted"
    # The abort left no event of its own; the history still tells it, from the close.
    assert state.failure is not None
    assert state.failure.type == "SagaAborted"
    if step_kind == "activity":  # the rebuild does not read local activities' markers yet
        assert saga_state_from_history(await handle.fetch_history()) == state


async def test_status_search_attribute_follows_compensation(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("sa")
    steps = (StepScript(name="reserve"), StepScript(name="charge", action="fail"))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(Script(steps=steps), step_kind), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        history = await handle.fetch_history()

    assert await ran_as(handle) == {step_kind}
    assert await search_status(handle) == "COMPENSATED"
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[
            "SagaStatus"
        ].data
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert upserts == [b'"RUNNING"', b'"COMPENSATING"', b'"COMPENSATED"']


async def test_a_wait_that_times_out_inside_the_saga_compensates(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("waited")
    script = Script(steps=tuple(StepScript(name=n) for n in STEPS), wait_timeout_after="charge")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == ["charge", "reserve"]
    assert "timed out" in str(caught.value.cause)


async def test_the_compensated_outcome_has_no_stack_and_its_cause_keeps_the_activitys(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("no-stack")
    script = Script(steps=(StepScript(name="reserve"), StepScript(name="charge", action="fail")))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    history = await handle.fetch_history()

    assert await ran_as(handle) == {step_kind}
    [failure] = [
        e.workflow_execution_failed_event_attributes.failure
        for e in history.events
        if e.HasField("workflow_execution_failed_event_attributes")
    ]
    assert failure.application_failure_info.type == SAGA_COMPENSATED
    assert failure.stack_trace == ""
    # The cause is the activity's failure as the activity worker reported it: under an
    # ActivityFailure for a regular activity, directly for a local one.
    if step_kind == "activity":
        assert failure.cause.HasField("activity_failure_info")
    activity_failure = failure.cause.cause if step_kind == "activity" else failure.cause
    assert activity_failure.message == "charge refused"
    assert activity_failure.stack_trace != ""
