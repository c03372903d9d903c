"""Contract rule 6: a compensation that fails for good parks the saga for an operator."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import (
    CompensationStatus,
    SagaEventKind,
    SagaStatus,
    operator_action,
    saga_state,
)
from tests.sagas import (
    FIXED,
    Script,
    StepKind,
    StepScript,
    activity_ids,
    as_kind,
    done,
    entries,
    new_id,
    ran_as,
    release,
    saga_worker,
    search_status,
    start,
    wait_for,
    wait_for_status,
)


def _script(middle: str = "fail_until_fixed") -> Script:
    return Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation=middle),  # type: ignore[arg-type]
            StepScript(name="ship", action="fail"),
        )
    )


async def test_first_failing_compensation_parks_the_saga_open(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("park")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script(), step_kind), wid)
        state = await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        attribute = await search_status(handle)
        described = await handle.describe()
        await handle.terminate("test over")

    assert await ran_as(handle) == {step_kind}
    assert state.parked_steps == ("charge",)
    assert attribute == "NEEDS_ATTENTION"
    assert described.status is not None
    assert described.status.name == "RUNNING"
    # Newest first, stopping at the failure: reserve's compensation has not run.
    assert done(wid, "compensation") == ["ship"]
    assert state.step("reserve").compensation.status is CompensationStatus.REGISTERED


async def test_retry_reruns_the_failed_compensation_with_the_same_key_and_finishes(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("retry")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script(), step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        action = await operator_action(handle, "retry", operator="ana", reason="card API back")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert action.step == "charge"
    assert done(wid, "compensation") == ["ship", "charge", "reserve"]
    keys = {e.key for e in entries(wid, "compensation") if e.step == "charge"}
    assert keys == {state.step("charge").idempotency_key + "/compensate"}
    assert state.status is SagaStatus.COMPENSATED
    assert state.step("charge").compensation.rounds == 2
    assert [(a.action, a.step, a.operator) for a in state.operator_actions] == [
        ("retry", "charge", "ana")
    ]
    assert any(e.kind is SagaEventKind.OPERATOR_ACTION for e in state.timeline)


async def test_skip_leaves_one_compensation_undone_and_continues(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("skip")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script("fail"), step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        await operator_action(handle, "skip", step="charge", reason="refunded by phone")
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == ["ship", "reserve"]
    charge = state.step("charge").compensation
    assert charge.status is CompensationStatus.SKIPPED
    assert charge.reason == "refunded by phone"
    assert caught.value.cause.details[0]["skipped"] == ["charge"]
    assert state.status is SagaStatus.COMPENSATED


async def test_resolve_marks_every_remaining_compensation_done_by_the_operator(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("resolve")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script("fail"), step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        await operator_action(handle, "resolve", reason="finance fixed it by hand", operator="bo")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    assert done(wid, "compensation") == ["ship"]
    assert state.step("charge").compensation.status is CompensationStatus.RESOLVED
    assert state.step("reserve").compensation.status is CompensationStatus.RESOLVED
    assert state.operator_actions[0].reason == "finance fixed it by hand"
    assert state.status is SagaStatus.COMPENSATED


@pytest.mark.parametrize(
    ("action", "step", "reason", "message"),
    [
        ("skip", "charge", None, "needs a reason"),
        ("resolve", None, "  ", "needs a reason"),
        ("retry", "nope", None, "not parked"),
        ("skip", "reserve", "why not", "not parked"),
    ],
)
async def test_invalid_operator_actions_are_rejected(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
    action: str,
    step: str | None,
    reason: str | None,
    message: str,
) -> None:
    client, wid = saga_dev_env.client, new_id("reject")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script("fail"), step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await operator_action(handle, action, step=step, reason=reason)  # type: ignore[arg-type]
        state = await saga_state(handle)
        await handle.terminate("test over")

    assert await ran_as(handle) == {step_kind}
    assert message in str(caught.value.cause)
    assert state.status is SagaStatus.NEEDS_ATTENTION
    assert state.operator_actions == ()


async def test_operator_action_on_a_saga_that_is_not_parked_is_rejected(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("notparked")
    async with saga_worker(client, saga_task_queue):
        script = Script(steps=(StepScript(name="a", action="block"),))
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for(handle, lambda s: bool(s.steps))
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await operator_action(handle, "retry")
        release(wid)
        await handle.result()

    assert await ran_as(handle) == {step_kind}
    assert "not waiting for an operator" in str(caught.value.cause)


async def test_without_parking_a_failed_compensation_fails_the_saga_with_a_report(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("noPark")
    script = _script("fail").model_copy(update={"park_on_failure": False})
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    error = caught.value.cause
    assert error.type == "SagaCompensationFailed"
    assert error.details[0]["failed"] == ["charge"]
    assert error.details[0]["not_run"] == ["reserve"]
    assert state.status is SagaStatus.FAILED


async def test_an_operator_retry_runs_the_compensation_under_a_new_activity_id(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("retry-id")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(_script(), step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="card API back")
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    key = f"scripted/{wid}/charge/compensate"
    # Each round is a new activity (Temporal refuses an id still in use); the key stays.
    ran = [(kind, i) for kind, i in await activity_ids(handle) if i.startswith(key)]
    assert ran == [(step_kind, key), (step_kind, f"{key}#2")]
    charge = [e for e in entries(wid, "compensation") if e.step == "charge"]
    assert {e.key for e in charge} == {key}
    assert [e.activity_id for e in charge if e.outcome == "ok"] == [f"{key}#2"]
