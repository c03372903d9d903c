from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import saga_state
from tests.sagas import ACTIVITIES, Script, ScriptedSaga, StepScript, done


async def test_all_steps_succeed(saga_dev_env: WorkflowEnvironment, saga_task_queue: str) -> None:
    client = saga_dev_env.client
    wid = f"smoke-{uuid.uuid4().hex[:6]}"
    script = Script(steps=(StepScript(name="a"), StepScript(name="b")))
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[ScriptedSaga], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            ScriptedSaga.run, script, id=wid, task_queue=saga_task_queue
        )
        out = await handle.result()
        state = await saga_state(handle)
    assert [r.step for r in out.receipts] == ["a", "b"]
    assert done(wid, "action") == ["a", "b"]
    assert done(wid, "compensation") == []
    print(state.model_dump_json(indent=1))
