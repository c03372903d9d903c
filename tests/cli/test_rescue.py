"""`sagas rescue` and `sagas terminate --compensate`: compensations no boundary can lose.

Ground truth is the activities' own journal (tests/sagas.py): which compensation ran,
how often, under which idempotency key.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaState, SagaStatus, saga_state
from temporal_sagas._contract import rescue_workflow_id
from temporal_sagas.cli._main import cli
from temporal_sagas.history import audit_trail, saga_state_from_history
from temporal_sagas.testing import assert_replays
from temporal_sagas.workflows._rescue import SagaRescue
from tests.sagas import (
    JOURNAL,
    Script,
    ScriptedSaga,
    StepScript,
    new_id,
    release,
    saga_worker,
)

pytestmark = pytest.mark.dev_server

#: a and b complete, c blocks (no compensation of its own), d never starts.
FOUR_STEPS = Script(
    steps=(
        StepScript(name="a"),
        StepScript(name="b"),
        StepScript(name="c", action="block", compensation="none"),
        StepScript(name="d"),
    )
)


async def sagas(env: WorkflowEnvironment, *args: str) -> Result:
    address = env.client.service_client.config.target_host
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--address", address])
    return result


def undone(wid: str, step: str) -> list[str]:
    """The outcomes the compensation of ``step`` recorded under its original key."""
    key = f"scripted/{wid}/{step}/compensate"  # the key the saga itself would have used
    return [e.outcome for e in JOURNAL if e.kind == "compensation" and e.key == key]


async def until(predicate: Any, polls: int = 600) -> None:
    for _ in range(polls):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def blocked_at_c(env: WorkflowEnvironment, task_queue: str, **options: Any) -> str:
    wid = new_id("rescue")
    await env.client.start_workflow(
        ScriptedSaga.run, FOUR_STEPS, id=wid, task_queue=task_queue, **options
    )
    await until(lambda: any(e.step == "c" and e.workflow_id == wid for e in JOURNAL))
    return wid


async def rescue_result(env: WorkflowEnvironment, wid: str) -> SagaState:
    """The rescue's state once it closed (as any compensated saga, with SagaCompensated)."""
    history = await env.client.get_workflow_handle(wid).fetch_history()
    run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id
    handle: WorkflowHandle[Any, Any] = env.client.get_workflow_handle(
        rescue_workflow_id(wid, run_id)
    )
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 60)
    return await saga_state(handle)


async def test_terminate_compensate_runs_each_due_compensation_once_with_its_original_key(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        wid = await blocked_at_c(saga_dev_env, saga_task_queue)
        before = await sagas(saga_dev_env, "show", wid)  # still running: no rescue line
        result = await sagas(saga_dev_env, "terminate", wid, "--reason", "test", "--compensate")
        report = await rescue_result(saga_dev_env, wid)
        shown = await sagas(saga_dev_env, "show", wid)

    assert result.exit_code == 0, result.output
    assert "rescued by" not in before.output
    assert "not rescued yet" not in before.output
    assert f"rescued by {wid}/rescue/" in shown.output
    assert ": COMPENSATED (sagas show" in shown.output
    assert report.status is SagaStatus.COMPENSATED
    assert report.compensation_order == ["b", "a"]
    assert undone(wid, "b") == ["ok"]
    assert undone(wid, "a") == ["ok"]
    assert undone(wid, "c") == []  # c has no compensation; d never ran


async def test_a_saga_past_its_execution_timeout_is_rescued(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        wid = await blocked_at_c(
            saga_dev_env, saga_task_queue, execution_timeout=timedelta(seconds=3)
        )
        handle = saga_dev_env.client.get_workflow_handle(wid)
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 30)
        result = await sagas(saga_dev_env, "rescue", wid)
        report = await rescue_result(saga_dev_env, wid)

    assert result.exit_code == 0, result.output
    assert "closed TIMED_OUT: 2 compensation(s) due" in result.output
    assert report.compensation_order == ["b", "a"]
    assert undone(wid, "b") == ["ok"]
    assert undone(wid, "a") == ["ok"]


async def test_a_saga_terminated_while_compensating_runs_only_the_rest(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    script = Script(
        steps=(
            StepScript(name="a"),
            StepScript(name="b", compensation="block"),
            StepScript(name="c", action="fail"),
        )
    )
    wid = new_id("rescue-mid")
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        handle = await saga_dev_env.client.start_workflow(
            ScriptedSaga.run, script, id=wid, task_queue=saga_task_queue
        )
        await until(lambda: undone(wid, "b") == ["blocked"])
        await handle.terminate("mid-compensation")
        result = await sagas(saga_dev_env, "rescue", wid)
        run_id = (await handle.describe()).run_id
        release(rescue_workflow_id(wid, run_id))  # the rescue's own round of b's undo
        report = await rescue_result(saga_dev_env, wid)

    assert result.exit_code == 0, result.output
    assert report.compensation_order == ["b", "a"]
    assert undone(wid, "c") == ["ok"]  # done before the terminate, not again
    # The original round blocked and was abandoned (it may still note the worker's
    # shutdown); the rescue's round blocked, was released and undid b once.
    assert [o for o in undone(wid, "b") if o != "saw_shutdown"] == ["blocked", "blocked", "ok"]
    assert undone(wid, "a") == ["ok"]


async def test_two_rescuers_racing_start_one_rescue(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        wid = await blocked_at_c(saga_dev_env, saga_task_queue)
        await saga_dev_env.client.get_workflow_handle(wid).terminate("race")
        first, second = await asyncio.gather(
            sagas(saga_dev_env, "rescue", wid), sagas(saga_dev_env, "rescue", wid)
        )
        await rescue_result(saga_dev_env, wid)
        again = await sagas(saga_dev_env, "rescue", wid)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "already rescued" in again.output
    assert undone(wid, "b") == ["ok"]
    assert undone(wid, "a") == ["ok"]


async def test_dry_run_lists_the_plan_and_starts_nothing(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        wid = await blocked_at_c(saga_dev_env, saga_task_queue)
        handle = saga_dev_env.client.get_workflow_handle(wid)
        await handle.terminate("dry")
        run_id = (await handle.describe()).run_id
        result = await sagas(saga_dev_env, "rescue", wid, "--dry-run")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("closed TERMINATED: 2 compensation(s) due, newest first:")
    assert lines[1:] == ["  b: undo_ok (action COMPLETED)", "  a: undo_ok (action COMPLETED)"]
    shown = await sagas(saga_dev_env, "show", wid)
    assert f"not rescued yet: sagas rescue {wid}" in shown.output
    with pytest.raises(RPCError) as raised:
        await saga_dev_env.client.get_workflow_handle(rescue_workflow_id(wid, run_id)).describe()
    assert raised.value.status is RPCStatusCode.NOT_FOUND
    assert undone(wid, "a") == []


async def test_a_saga_that_completed_has_nothing_to_rescue(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("rescue-none")
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        handle = await saga_dev_env.client.start_workflow(
            ScriptedSaga.run, Script(steps=(StepScript(name="a"),)), id=wid,
            task_queue=saga_task_queue,
        )  # fmt: skip
        await handle.result()
        result = await sagas(saga_dev_env, "rescue", wid)
        state = await saga_state(handle)

    assert "nothing to rescue" in result.output
    assert state.status is SagaStatus.COMPLETED


async def test_a_rescue_s_own_history_replays_and_records_its_compensations(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with saga_worker(saga_dev_env.client, saga_task_queue):
        wid = await blocked_at_c(saga_dev_env, saga_task_queue)
        handle = saga_dev_env.client.get_workflow_handle(wid)
        await handle.terminate("replay check")
        run_id = (await handle.describe()).run_id
        await sagas(saga_dev_env, "rescue", wid)
        await rescue_result(saga_dev_env, wid)
        rescue = saga_dev_env.client.get_workflow_handle(rescue_workflow_id(wid, run_id))
        history = await rescue.fetch_history()
        live = await saga_state(rescue)

    await assert_replays([history], sagas=[SagaRescue])
    assert saga_state_from_history(history) == live
    assert [(s.name, s.activity, s.status.value) for s in live.steps] == [
        ("a", "act", "COMPLETED"),
        ("b", "act", "COMPLETED"),
    ]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == [f"scripted/{wid}/b/compensate", f"scripted/{wid}/a/compensate"]
    trail = [(e.kind.value, e.step) for e in audit_trail(history)]
    assert ("compensation.completed", "b") in trail
    assert ("compensation.completed", "a") in trail
