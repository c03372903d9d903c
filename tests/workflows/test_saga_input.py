"""Raw input a saga's model rejects closes the saga FAILED with SagaInputError.

A client that does not share the saga's models (the plain ``temporal`` CLI, another
language) can start it with any JSON. Nothing ran, so nothing is compensated; and the
workflow task must not fail and retry forever, leaving the saga RUNNING.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas._contract import SAGA_INPUT_ERROR
from tests.sagas import entries, new_id, saga_worker

pytestmark = pytest.mark.dev_server

CARD = "4111111111111111"


async def test_raw_input_the_model_rejects_fails_the_saga_with_saga_input_error(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("raw-input")
    raw = {"steps": [{"name": "reserve", "action": CARD}], "policy": "sometimes"}
    async with saga_worker(client, saga_task_queue):
        handle = await client.start_workflow(
            "ScriptedSaga", raw, id=wid, task_queue=saga_task_queue
        )
        with pytest.raises(WorkflowFailureError) as raised:
            # Bounded: without the fix the task retries forever and this times out.
            await asyncio.wait_for(handle.result(), 60)
        history = await handle.fetch_history()

    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == SAGA_INPUT_ERROR
    assert cause.non_retryable
    assert "steps.0.action" in cause.message
    assert "policy" in cause.message
    assert CARD not in cause.message
    kinds = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds
    assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    assert entries(wid) == []
