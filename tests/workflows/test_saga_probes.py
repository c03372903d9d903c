"""Contract rule 11: ambiguity is asked, not guessed.

An action whose last attempt timed out may have taken effect. With a probe, the engine
asks before it decides: the effect is there, so the step completes with the probed
result and the saga goes on; or it is not, so the saga compensates the steps before it
and never undoes what did not happen. Ground truth: the activities' journal and the raw
history.
"""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import CompensationStatus, SagaEventKind, SagaStatus, StepStatus, saga_state
from temporal_sagas.history import saga_state_from_history
from tests.sagas import Script, StepScript, done, entries, new_id, saga_worker, start

pytestmark = pytest.mark.dev_server


def _probed(state: object) -> list[tuple[str | None, str | None]]:
    return [
        (e.step, e.detail)
        for e in state.timeline  # type: ignore[attr-defined]
        if e.kind is SagaEventKind.STEP_PROBED
    ]


async def test_a_timed_out_action_that_took_effect_completes_forward_when_probed(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("probe-effect")
    steps = (
        StepScript(name="reserve"),
        StepScript(name="charge", action="timeout_after_effect", probe=True),
        StepScript(name="ship"),
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, Script(steps=steps), wid)
        outcome = await handle.result()
        state = await saga_state(handle)
        history = await handle.fetch_history()

    key = f"scripted/{wid}/charge"
    assert [r.step for r in outcome.receipts] == ["reserve", "charge", "ship"]
    assert outcome.receipts[1].key == f"probed:{key}"  # the probe's answer is the result
    assert entries(wid, "compensation") == []
    probe_calls = [e for e in entries(wid) if e.outcome == "probed"]
    assert [(e.key, e.activity_id) for e in probe_calls] == [(key, f"{key}/probe")]
    assert state.status is SagaStatus.COMPLETED
    assert state.step("charge").status is StepStatus.COMPLETED
    assert _probed(state) == [("charge", "took effect")]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == [f"scripted/{wid}/reserve", key, f"{key}/probe", f"scripted/{wid}/ship"]
    assert saga_state_from_history(history) == state


async def test_a_timed_out_action_without_effect_compensates_the_rest_but_not_itself(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("probe-none")
    steps = (
        StepScript(name="reserve"),
        StepScript(name="charge", action="timeout_no_effect", probe=True),
        StepScript(name="ship"),
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, Script(steps=steps), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)
        history = await handle.fetch_history()

    assert done(wid, "compensation") == ["reserve"]
    assert not any(e.step == "ship" for e in entries(wid))
    charge = state.step("charge")
    assert charge.status is StepStatus.FAILED
    assert charge.compensation is not None
    assert charge.compensation.status is CompensationStatus.NOT_NEEDED
    assert state.status is SagaStatus.COMPENSATED
    assert _probed(state) == [("charge", "no effect")]
    assert saga_state_from_history(history) == state


async def test_without_a_probe_a_timed_out_action_is_compensated_as_before(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("probe-off")
    steps = (StepScript(name="reserve"), StepScript(name="charge", action="timeout_no_effect"))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, Script(steps=steps), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert done(wid, "compensation") == ["charge", "reserve"]
    assert _probed(state) == []
    assert not any(e.outcome == "probed" for e in entries(wid))


async def test_a_plain_failure_is_not_ambiguous_and_asks_no_probe(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("probe-plain")
    steps = (StepScript(name="reserve"), StepScript(name="charge", action="fail", probe=True))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, Script(steps=steps), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    assert not any(e.outcome == "probed" for e in entries(wid))
    assert done(wid, "compensation") == ["charge", "reserve"]
