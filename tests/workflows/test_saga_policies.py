"""Contract rule 2's options: continue_on_error and parallel compensation."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import (
    SAGA_STATUS,
    CompensationPolicy,
    CompensationStatus,
    SagaStatus,
    operator_action,
)
from tests.sagas import (
    FIXED,
    Script,
    StepKind,
    StepScript,
    as_kind,
    done,
    entries,
    local_marker,
    new_id,
    ran_as,
    saga_worker,
    search_status,
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
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("coe")
    script = _script(CompensationPolicy.CONTINUE_ON_ERROR, park=False)
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()

    assert await ran_as(handle) == {step_kind}
    first_attempts = [e.step for e in entries(wid, "compensation") if e.attempt == 1]
    assert first_attempts == ["d", "c", "b", "a"]
    report = caught.value.cause.details[0]
    assert report["failed"] == ["c", "a"]
    assert report["compensated"] == ["d", "b"]


async def test_parallel_schedules_every_compensation_in_one_workflow_task(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("par")
    script = _script(CompensationPolicy.PARALLEL, park=False)
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        history = await handle.fetch_history()

    assert await ran_as(handle) == {step_kind}
    if step_kind == "activity":
        scheduled = [
            i
            for i, e in enumerate(history.events)
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_id.endswith("/compensate")
        ]
        # Four compensations scheduled back to back: one workflow task started them all.
        assert len(scheduled) == 4
        assert scheduled == list(range(scheduled[0], scheduled[0] + 4))
    else:
        # A local activity has no scheduled event, only a marker once it has an outcome,
        # and the four markers land together in one workflow task. (Local steps of any
        # policy run inside one task, so the history cannot tell parallel from
        # sequential here; test_cancel_during_parallel_compensation_lets_every_
        # compensation_finish shows that they overlap.)
        markers = [
            i
            for i, e in enumerate(history.events)
            if (marker := local_marker(e)) is not None
            and str(marker["activity_id"]).endswith("/compensate")
        ]
        assert len(markers) == 4
        assert markers == list(range(markers[0], markers[0] + 4))
    report = caught.value.cause.details[0]
    assert sorted(report["failed"]) == ["a", "c"]
    assert sorted(report["compensated"]) == ["b", "d"]


async def test_parallel_failures_park_together_and_one_retry_reruns_them_all(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
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
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        parked = await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="dependency restored")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        final = await wait_for_status(handle, SagaStatus.COMPENSATED)

    assert await ran_as(handle) == {step_kind}
    assert sorted(parked.parked_steps) == ["a", "b"]
    assert all(
        final.step(n).compensation.status is CompensationStatus.COMPLETED for n in ("a", "b", "c")
    )


async def test_continue_on_error_with_parking_attempts_every_compensation_before_it_parks(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("coe-park")
    script = Script(
        steps=(
            StepScript(name="a", compensation="fail_until_fixed"),
            StepScript(name="b", compensation="ok"),
            StepScript(name="c", compensation="fail_until_fixed"),
            StepScript(name="d", action="fail"),
        ),
        policy=CompensationPolicy.CONTINUE_ON_ERROR,
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        parked = await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        while_parked = (await handle.describe()).typed_search_attributes.get(SAGA_STATUS)
        attempted_before_parking = [e.step for e in entries(wid, "compensation")]
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="card API back")
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()

    assert await ran_as(handle) == {step_kind}
    # c's failure did not stop b and a: every compensation ran once before the saga parked.
    assert list(dict.fromkeys(attempted_before_parking)) == ["d", "c", "b", "a"]
    assert parked.parked_steps == ("c", "a")
    assert while_parked == "NEEDS_ATTENTION"
    # One retry reran both failed compensations, in the policy's order.
    assert done(wid, "compensation") == ["d", "b", "c", "a"]
    assert await search_status(handle) == "COMPENSATED"
    assert caught.value.cause.details[0]["compensated"] == ["d", "c", "b", "a"]
