"""Contract rule 7: keys and activity ids derive from names and survive everything."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from temporal_sagas import SagaPlugin, saga_state
from tests.sagas import (
    ACTIVITIES,
    Call,
    Receipt,
    Script,
    StepScript,
    entries,
    new_id,
    release,
    saga_worker,
    start,
    wait_until,
)
from tests.workflows.order_sagas import TwoSteps, TwoStepsSwapped


def _expected(wid: str, step: str) -> str:
    return f"scripted/{wid}/{step}"


async def test_keys_and_activity_ids_are_stable_across_retries(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("keys-retry")
    script = Script(steps=(StepScript(name="pay", action="fail_once"),))
    async with saga_worker(client, saga_task_queue):
        await (await start(client, saga_task_queue, script, wid)).result()

    attempts = entries(wid, "action")
    assert [e.attempt for e in attempts] == [1, 2]
    assert {e.key for e in attempts} == {_expected(wid, "pay")}
    assert {e.activity_id for e in attempts} == {_expected(wid, "pay")}


async def test_keys_are_the_same_under_forced_replay(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("keys-replay")
    script = Script(
        steps=(StepScript(name="a"), StepScript(name="a"), StepScript(name="b", action="fail"))
    )
    async with saga_worker(client, saga_task_queue, max_cached_workflows=0):
        handle = await start(client, saga_task_queue, script, wid)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        state = await saga_state(handle)

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
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
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
        await (await start(client, saga_task_queue, script, wid)).result()

    assert seen == [{"Idempotency-Key": _expected(wid, "pay")}]
