"""`DefinitionSaga`: input checks, versions side by side, and definitions changed in flight."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SagaEventKind, saga_state
from temporal_sagas._contract import SAGA_NAME, SAGA_STATUS
from temporal_sagas.definitions import (
    DEFINITIONS,
    DefinitionSaga,
    DefinitionSagaInput,
    SagaDefinition,
    parse_definition,
    register_definition,
)
from temporal_sagas.history import audit_trail
from tests.history.audit_support import audit_logging
from tests.sagas import new_id, task_failure_message, wait_until
from tests.workflows.trip_styles import ACTIVITIES, TRIP_YAML, Trip, journal, release

RETRY = "defaults: {action: {retry: {maximum_attempts: 2, initial_interval: 20ms}}}\n"


def _definition(name: str, version: int, services: tuple[str, ...]) -> str:
    steps = "".join(
        f"  - {{name: {s}, action: reserve_{s}, compensation: cancel_{s}}}\n" for s in services
    )
    return f"name: {name}\nversion: {version}\n{RETRY}steps:\n{steps}"


async def _start(
    client: Client, task_queue: str, name: str, version: int, trip: Trip
) -> WorkflowHandle[Any, Any]:
    request = DefinitionSagaInput(name=name, version=version, input=trip.model_dump(mode="json"))
    return await client.start_workflow(
        DefinitionSaga.run, request, id=trip.trip_id, task_queue=task_queue
    )


def _trip(**kwargs: Any) -> Trip:
    return Trip(trip_id=new_id("def"), traveller="Ada", destination="Lisbon", **kwargs)


async def test_invalid_input_fails_the_saga_before_its_first_step_without_retries(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    register_definition(TRIP_YAML)
    client, wid = saga_dev_env.client, new_id("badinput")
    request = DefinitionSagaInput(name="book-trip", version=1, input={"trip_id": wid})
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            DefinitionSaga.run, request, id=wid, task_queue=saga_task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        history = await handle.fetch_history()

    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.type == "SagaInputError"
    assert error.non_retryable
    assert "'traveller' is a required property" in error.message
    assert journal(wid) == []
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    assert not any(e.HasField("workflow_task_failed_event_attributes") for e in history.events)


async def test_unknown_definition_fails_the_saga_without_retries(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client = saga_dev_env.client
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
    ):
        handle = await _start(client, saga_task_queue, "never-registered", 7, _trip())
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        history = await handle.fetch_history()

    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.type == "SagaDefinitionNotFound"
    assert "never-registered@v7" in error.message
    kinds = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds  # nothing ran
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds  # no retried task
    assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED


async def test_saga_in_flight_keeps_running_v1_when_v2_is_registered_beside_it(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, name = saga_dev_env.client, f"trip-{uuid.uuid4().hex[:6]}"
    register_definition(parse_definition(_definition(name, 1, ("car", "hotel"))))
    v1_trip, v2_trip = _trip(hold_at="car"), _trip()
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
    ):
        v1 = await _start(client, saga_task_queue, name, 1, v1_trip)
        await wait_until(lambda: ("holding", "car") in journal(v1_trip.trip_id))
        register_definition(parse_definition(_definition(name, 2, ("car", "flight"))))
        v2 = await _start(client, saga_task_queue, name, 2, v2_trip)
        await v2.result()
        release(v1_trip.trip_id)
        v1_result = await v1.result()
        v1_state, v2_state = await saga_state(v1), await saga_state(v2)

    assert set(v1_result) == {"car", "hotel"}
    assert v1_state.step_names == ["car", "hotel"]
    assert v2_state.step_names == ["car", "flight"]
    assert journal(v1_trip.trip_id) == [
        ("holding", "car"),
        ("reserved", "car"),
        ("reserved", "hotel"),
    ]


async def test_changed_definition_under_the_same_version_stops_the_saga_until_restored(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, name = saga_dev_env.client, f"drift-{uuid.uuid4().hex[:6]}"
    original = parse_definition(_definition(name, 1, ("car", "hotel")))
    register_definition(original)
    trip = _trip(hold_at="car")
    # No workflow cache: every workflow task replays the history with the current definition.
    async with Worker(
        client,
        task_queue=saga_task_queue,
        workflows=[DefinitionSaga],
        activities=ACTIVITIES,
        max_cached_workflows=0,
    ):
        handle = await _start(client, saga_task_queue, name, 1, trip)
        await wait_until(lambda: ("holding", "car") in journal(trip.trip_id))
        DEFINITIONS.unregister(name, 1)  # an operator edits the file and restarts the worker
        register_definition(parse_definition(_definition(name, 1, ("car", "flight"))))
        release(trip.trip_id)
        message = await task_failure_message(handle)
        drifted = ("reserved", "flight") in journal(trip.trip_id)
        DEFINITIONS.unregister(name, 1)
        register_definition(original)
        # The server retries the failed workflow task on its own backoff (about 10 s).
        result = await handle.result()

    assert f"saga definition {name}@v1 changed while this saga was running" in message
    assert not drifted
    assert set(result) == {"car", "hotel"}
    assert journal(trip.trip_id)[-1] == ("reserved", "hotel")


async def test_definition_with_audit_log_and_search_attributes_off_logs_and_upserts_nothing(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, name = saga_dev_env.client, f"lean-{uuid.uuid4().hex[:6]}"
    text = _definition(name, 1, ("car", "hotel")) + "audit_log: false\nsearch_attributes: false\n"
    register_definition(parse_definition(text))
    trip = _trip()
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with Worker(
            client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
        ):
            handle = await _start(client, saga_task_queue, name, 1, trip)
            result = await handle.result()
            history = await handle.fetch_history()
        logged = captured.audit_lines()

    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    upserted = {key for fields in upserts for key in fields}
    assert set(result) == {"car", "hotel"}
    assert logged == []
    assert upserted.isdisjoint({SAGA_NAME.name, SAGA_STATUS.name})  # the patch marker's only
    assert [e.kind for e in audit_trail(history)][-1] is SagaEventKind.SAGA_CLOSED


async def test_a_schema_reference_outside_the_schema_fails_the_saga_and_is_never_fetched(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("remote-ref")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/trip.json"
        # Built in code, so parse_definition's refusal of remote references never ran.
        definition = SagaDefinition.model_validate(
            {
                "name": f"remote-{uuid.uuid4().hex[:6]}",
                "version": 1,
                "input_schema": {"properties": {"trip_id": {"$ref": url}}},
                "steps": [{"name": "car", "action": "reserve_car"}],
            }
        )
        register_definition(definition)
        request = DefinitionSagaInput(name=definition.name, version=1, input={"trip_id": wid})
        async with Worker(
            client, task_queue=saga_task_queue, workflows=[DefinitionSaga], activities=ACTIVITIES
        ):
            handle = await client.start_workflow(
                DefinitionSaga.run, request, id=wid, task_queue=saga_task_queue
            )
            with pytest.raises(WorkflowFailureError) as caught:
                # Bounded: a workflow task failing on the reference would retry forever.
                await asyncio.wait_for(handle.result(), 30)
            history = await handle.fetch_history()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected

    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert (error.type, error.non_retryable) == ("SagaInputError", True)
    assert f"{url}" in error.message
    assert journal(wid) == []
    assert not any(e.HasField("workflow_task_failed_event_attributes") for e in history.events)
