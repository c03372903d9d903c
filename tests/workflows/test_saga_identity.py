"""Contract rule 7: keys and activity ids derive from names and survive everything."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from temporal_sagas import (
    SAGA_NAME,
    SagaPlugin,
    SagaStatus,
    operator_action,
    saga_state,
    start_saga,
)
from tests.sagas import (
    ACTIVITIES,
    FIXED,
    Call,
    Receipt,
    Script,
    ScriptedSaga,
    StepKind,
    StepScript,
    as_kind,
    entries,
    new_id,
    ran_as,
    release,
    saga_worker,
    start,
    wait_for_status,
    wait_until,
)
from tests.workflows.order_sagas import TwoSteps, TwoStepsSwapped


def _expected(wid: str, step: str) -> str:
    return f"scripted/{wid}/{step}"


async def test_keys_and_activity_ids_are_stable_across_retries(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("keys-retry")
    script = Script(steps=(StepScript(name="pay", action="fail_once"),))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await handle.result()

    assert await ran_as(handle) == {step_kind}
    attempts = entries(wid, "action")
    assert [e.attempt for e in attempts] == [1, 2]
    assert {e.key for e in attempts} == {_expected(wid, "pay")}
    assert {e.activity_id for e in attempts} == {_expected(wid, "pay")}


async def test_keys_are_the_same_under_forced_replay(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    client, wid = saga_dev_env.client, new_id("keys-replay")
    script = Script(
        steps=(StepScript(name="a"), StepScript(name="a"), StepScript(name="b", action="fail"))
    )
    async with saga_worker(client, saga_task_queue, max_cached_workflows=0):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

    assert await ran_as(handle) == {step_kind}
    # Repeated names get a loop index; every workflow task replayed from the start.
    names = ["a", "a[1]", "b"]
    assert [e.key for e in entries(wid, "action") if e.attempt == 1] == [
        _expected(wid, n) for n in names
    ]
    assert [e.key for e in entries(wid, "compensation")] == [
        _expected(wid, n) + "/compensate" for n in reversed(names)
    ]
    assert [s.idempotency_key for s in state.steps] == [_expected(wid, n) for n in names]


async def test_keys_survive_a_worker_restart_mid_saga(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    # Regular steps only: a worker does not stop while a local step of its runs (below).
    client, wid = saga_dev_env.client, new_id("keys-restart")
    script = Script(steps=(StepScript(name="a"), StepScript(name="b", action="block")))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: any(e.step == "b" for e in entries(wid, "action")))
    # The first worker is gone; its running activity was cancelled at shutdown.
    release(wid)
    async with saga_worker(client, saga_task_queue):
        await handle.result()

    b_runs = [e for e in entries(wid, "action") if e.step == "b"]
    assert len({e.attempt for e in b_runs}) >= 2
    assert {e.key for e in b_runs} == {_expected(wid, "b")}
    assert {e.activity_id for e in b_runs} == {_expected(wid, "b")}


async def test_a_worker_stops_only_after_its_running_local_step_ends_and_keeps_its_key(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("local-stop")
    script = as_kind(
        Script(steps=(StepScript(name="a"), StepScript(name="b", action="block"))), "local"
    )
    async with saga_worker(client, saga_task_queue) as worker:
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: any(e.step == "b" for e in entries(wid, "action")))
        stopping = asyncio.create_task(worker.shutdown())
        # The step sees the shutdown, yet is not cancelled: the SDK lets local
        # activities finish before the worker stops.
        await wait_until(lambda: any(e.outcome == "saw_shutdown" for e in entries(wid)))
        stopped_before_the_step_ended = stopping.done()
        release(wid)
        await stopping
    async with saga_worker(client, saga_task_queue):
        await handle.result()

    assert await ran_as(handle) == {"local"}
    assert not stopped_before_the_step_ended
    b_runs = [e for e in entries(wid, "action") if e.step == "b"]
    assert [e.outcome for e in b_runs][:3] == ["blocked", "saw_shutdown", "ok"]
    assert {e.key for e in b_runs} == {_expected(wid, "b")}
    assert {e.activity_id for e in b_runs} == {_expected(wid, "b")}


async def test_a_closed_sagas_history_replays_without_nondeterminism(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, step_kind: StepKind
) -> None:
    client, wid = saga_dev_env.client, new_id("replay")
    script = Script(
        steps=(
            StepScript(name="a"),
            StepScript(name="b", compensation="fail_until_fixed"),
            StepScript(name="c", action="fail"),
        )
    )
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        await operator_action(handle, "retry", reason="fixed")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    history = await handle.fetch_history()

    assert await ran_as(handle) == {step_kind}
    replayed = await Replayer(workflows=[ScriptedSaga], plugins=[SagaPlugin()]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None


@pytest.mark.parametrize("starter", ["engine", "start_saga"])
async def test_the_saga_name_search_attribute_holds_each_sagas_own_name(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, starter: str
) -> None:
    client = saga_dev_env.client
    names = {new_id("payments"): new_id("pay"), new_id("shipping"): new_id("ship")}
    async with saga_worker(client, saga_task_queue):
        for name, wid in names.items():
            script = Script(saga=name, steps=(StepScript(name="a"),))
            if starter == "engine":
                handle = await start(client, saga_task_queue, script, wid)
            else:
                # A name given at start that is not the saga's own is corrected by the saga.
                handle = await start_saga(
                    client,
                    ScriptedSaga.run,
                    script,
                    id=wid,
                    task_queue=saga_task_queue,
                    saga_name="stale",
                )
            await handle.result()

    read_back = {
        (await client.get_workflow_handle(wid).describe()).typed_search_attributes.get(
            SAGA_NAME
        ): wid
        for wid in names.values()
    }
    assert read_back == {name: wid for name, wid in names.items()}


async def test_reordering_two_steps_of_one_activity_type_fails_replay(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("reorder")
    async with saga_worker(client, saga_task_queue, workflows=[TwoSteps]):
        handle = await client.start_workflow(TwoSteps.run, "k", id=wid, task_queue=saga_task_queue)
        await handle.result()
    history = await handle.fetch_history()

    await Replayer(workflows=[TwoSteps], plugins=[SagaPlugin()]).replay_workflow(history)
    with pytest.raises(NondeterminismError, match="first"):
        await Replayer(workflows=[TwoStepsSwapped], plugins=[SagaPlugin()]).replay_workflow(history)


async def test_activities_can_forward_their_key_as_an_http_idempotency_header(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    step_kind: StepKind,
) -> None:
    from temporalio import activity

    from temporal_sagas.activities import idempotency_headers

    seen: list[dict[str, str]] = []

    @activity.defn(name="act")
    async def act_with_header(call: Call) -> Receipt:
        seen.append(idempotency_headers())
        return Receipt(step=call.step, key="")

    client, wid = saga_dev_env.client, new_id("header")
    script = Script(steps=(StepScript(name="pay"),))
    async with saga_worker(client, saga_task_queue, activities=[act_with_header, *ACTIVITIES[1:]]):
        handle = await start(client, saga_task_queue, as_kind(script, step_kind), wid)
        await handle.result()

    assert await ran_as(handle) == {step_kind}
    assert seen == [{"Idempotency-Key": _expected(wid, "pay")}]
