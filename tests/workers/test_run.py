"""`build_worker`: the worker the settings describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import OperatorRequest, SagaApp, SagaStatus
from temporal_sagas._client import send_operator_request
from temporal_sagas._operators import generate_key_pair
from temporal_sagas.workers import WorkerSettings
from temporal_sagas.workers._run import build_worker
from tests.sagas import ACTIVITIES, Script, ScriptedSaga, StepScript, new_id, start, wait_for_status


async def test_operator_keys_in_the_settings_make_the_worker_refuse_unsigned_actions(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    # The client's SagaPlugin has no keys; the settings' keys must still apply.
    keys_file = tmp_path / "operators.toml"
    keys_file.write_text(f'[operators.ana]\npublic_key = "{generate_key_pair()[1]}"\n')
    settings = WorkerSettings.load(operator_keys=keys_file, task_queue=saga_task_queue)
    app = SagaApp(task_queue="unused", sagas=[ScriptedSaga], activities=ACTIVITIES)
    script = Script(
        steps=(
            StepScript(name="charge", compensation="fail"),
            StepScript(name="ship", action="fail"),
        )
    )
    client = saga_dev_env.client
    async with build_worker(client, app, settings):
        handle = await start(client, saga_task_queue, script, new_id("settings-keys"))
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await send_operator_request(
                handle, "skip", OperatorRequest(step="charge", reason="x", operator="ana")
            )
        await handle.terminate("test over")

    assert "accepts only signed operator requests" in str(caught.value.cause)
