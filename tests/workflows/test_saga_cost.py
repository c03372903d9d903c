"""Acceptance: a framework saga costs at most two history events over a hand-written one."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from temporal_sagas import start_saga
from tests.sagas import Script, ScriptedSaga, StepScript, new_id, saga_worker, start
from tests.workflows.heap_sagas import HeapProbeSaga
from tests.workflows.order_sagas import HandWrittenSaga

STEPS = ["a", "b", "c"]


async def _events(
    env: WorkflowEnvironment, task_queue: str, *, framework_start: bool
) -> tuple[int, int]:
    client = env.client
    hand_id, saga_id = new_id("hand"), new_id("framework")
    script = Script(steps=tuple(StepScript(name=n) for n in STEPS))
    async with saga_worker(client, task_queue, workflows=[ScriptedSaga, HandWrittenSaga]):
        hand = await client.start_workflow(
            HandWrittenSaga.run, STEPS, id=hand_id, task_queue=task_queue
        )
        await hand.result()
        if framework_start:
            saga = await start_saga(
                client,
                ScriptedSaga.run,
                script,
                id=saga_id,
                task_queue=task_queue,
                saga_name="scripted",
            )
        else:
            saga = await start(client, task_queue, script, saga_id)
        await saga.result()
    return len((await hand.fetch_history()).events), len((await saga.fetch_history()).events)


async def test_framework_saga_has_at_most_two_more_events_than_hand_written(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    hand, framework = await _events(saga_dev_env, saga_task_queue, framework_start=False)
    assert framework <= hand + 2, (hand, framework)


async def test_start_saga_sets_search_attributes_and_saves_an_upsert(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    hand, framework = await _events(saga_dev_env, saga_task_queue, framework_start=True)
    assert framework == hand + 1, (hand, framework)


async def test_open_saga_keeps_its_timeline_out_of_the_collectors_way(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    # A full collection walks every tracked object of every open saga: the timeline's
    # rows (one per transition) must drop out of tracking; neither the records nor the
    # engine's own objects (saga, runtime, operator desk) carry a __dict__; nor does the
    # saga copy the default options or describe its failure twice.
    async with saga_worker(saga_dev_env.client, saga_task_queue, workflows=[HeapProbeSaga]):
        left = await saga_dev_env.client.execute_workflow(
            HeapProbeSaga.run, new_id("heap"), id=new_id("heap"), task_queue=saga_task_queue
        )
    assert left == []
