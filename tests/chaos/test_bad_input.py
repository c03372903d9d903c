"""Bad input gets a clear error and leaves no partial effect behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SAGA_COMPENSATED, SagaStatus, saga_state, start_saga
from temporal_sagas._contract import SAGA_INPUT_ERROR
from tests.chaos.bad_sagas import (
    ACTIVITIES,
    WORKFLOWS,
    Order,
    ReserveThenUnknown,
    ReserveThenWrongType,
    effects,
)

pytestmark = pytest.mark.chaos


def _order(**changes: object) -> Order:
    return Order(order_id=f"order-{uuid.uuid4().hex[:8]}", quantity=1).model_copy(update=changes)


@pytest_asyncio.fixture
async def client(saga_dev_env: WorkflowEnvironment, saga_task_queue: str) -> AsyncIterator[Client]:
    """The dev server's client, with a worker for the bad-input sagas."""
    async with Worker(
        saga_dev_env.client,
        task_queue=saga_task_queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
    ):
        yield saga_dev_env.client


def _root(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


async def test_unknown_activity_name_compensates_with_a_clear_message(
    client: Client, saga_task_queue: str
) -> None:
    order = _order()
    handle = await start_saga(
        client, ReserveThenUnknown.run, order, id=order.order_id, task_queue=saga_task_queue
    )

    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()

    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.type == SAGA_COMPENSATED
    message = str(_root(raised.value))
    assert "Activity function no_such_activity" in message
    assert "is not registered on this worker" in message
    assert (await saga_state(handle)).status is SagaStatus.COMPENSATED
    assert effects(order.order_id) == ["reserved", "released"]


async def _task_failure(client: Client, workflow_id: str) -> str:
    """The message (with causes) of the saga's first failed workflow task, waited for."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure
                messages = []
                while failure.message:
                    messages.append(failure.message)
                    failure = failure.cause
                return " <- ".join(messages)
        await asyncio.sleep(0.05)
    raise AssertionError(f"saga {workflow_id} never failed a workflow task")


async def _terminate(client: Client, workflow_id: str) -> None:
    await client.get_workflow_handle(workflow_id).terminate("bad-input test cleanup")


async def test_activity_returning_the_wrong_type_fails_its_step_and_compensates(
    client: Client, saga_task_queue: str
) -> None:
    order = _order()
    handle = await start_saga(
        client, ReserveThenWrongType.run, order, id=order.order_id, task_queue=saga_task_queue
    )

    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()

    # The worker checks the result against the declared return type, so the step fails
    # (not the workflow task) and what came before is undone.
    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.type == SAGA_COMPENSATED
    assert "not its declared return type" in str(_root(raised.value))
    assert (await saga_state(handle)).status is SagaStatus.COMPENSATED
    assert effects(order.order_id) == ["reserved", "charge attempted", "released"]


async def test_unknown_saga_name_fails_its_workflow_task_and_runs_nothing(
    client: Client, saga_task_queue: str
) -> None:
    order = _order()
    await start_saga(client, "NoSuchSaga", order, id=order.order_id, task_queue=saga_task_queue)
    try:
        message = await _task_failure(client, order.order_id)
    finally:
        await _terminate(client, order.order_id)

    assert "NoSuchSaga is not registered on this worker" in message
    assert "ReserveThenUnknown" in message  # the error lists what the worker does run
    assert effects(order.order_id) == []


async def test_invalid_input_is_refused_by_sagas_start_before_anything_starts(
    client: Client, saga_task_queue: str
) -> None:
    # The project's own path, not the model alone: the CLI checks the input against the
    # saga's input model and starts nothing.
    from click.testing import CliRunner

    from temporal_sagas import SagaInputError
    from temporal_sagas.cli._main import cli

    workflow_id = f"order-{uuid.uuid4().hex[:8]}"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "start", "ReserveThenUnknown", "--app", "tests.chaos.bad_sagas:ReserveThenUnknown",
            "--id", workflow_id, "--task-queue", saga_task_queue,
            "--input", '{"order_id": "", "quantity": 0}',
            "--address", client.service_client.config.target_host,
        ],
    )  # fmt: skip

    assert isinstance(result.exception, SagaInputError)
    assert "order_id" in str(result.exception)
    assert "quantity" in str(result.exception)
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(workflow_id).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
    assert effects(workflow_id) == []


async def test_invalid_raw_input_closes_the_saga_before_the_first_step(
    client: Client, saga_task_queue: str
) -> None:
    workflow_id = f"order-{uuid.uuid4().hex[:8]}"
    raw = {"order_id": workflow_id, "quantity": 0}
    handle = await start_saga(
        client, "ReserveThenUnknown", raw, id=workflow_id, task_queue=saga_task_queue
    )

    with pytest.raises(WorkflowFailureError) as raised:
        await asyncio.wait_for(handle.result(), 60)

    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == SAGA_INPUT_ERROR
    assert "does not fit Order" in cause.message
    assert "quantity" in cause.message
    assert effects(workflow_id) == []


async def test_oversized_input_is_one_clear_error_from_sagas_start_and_no_saga_exists(
    client: Client, saga_task_queue: str, tmp_path: Path
) -> None:
    # The project's path: valid by the model, too large for the server; sagas start
    # says so in one line instead of a gRPC traceback, and nothing exists afterwards.
    from click.testing import CliRunner

    from temporal_sagas import SagaInputError
    from temporal_sagas.cli._main import cli

    order = _order(note="x" * 3_000_000)  # over the server's 2 MB blob limit
    big = tmp_path / "order.json"
    big.write_text(order.model_dump_json(), encoding="utf-8")
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "start", "ReserveThenUnknown", "--app", "tests.chaos.bad_sagas:ReserveThenUnknown",
            "--id", order.order_id, "--task-queue", saga_task_queue, "--input", f"@{big}",
            "--address", client.service_client.config.target_host,
        ],
    )  # fmt: skip

    assert isinstance(result.exception, SagaInputError)
    assert f"Temporal refused to start {order.order_id!r}" in str(result.exception)
    assert "Blob data size exceeds limit" in str(result.exception)
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(order.order_id).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
    assert effects(order.order_id) == []
