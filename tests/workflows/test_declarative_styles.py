"""The trip-booking saga in three styles: one engine, one timeline, step for step."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SagaState, saga_state
from temporal_sagas.definitions import DefinitionSaga, DefinitionSagaInput, register_definition
from tests.sagas import new_id
from tests.workflows.trip_styles import (
    ACTIVITIES,
    SERVICES,
    TRIP_YAML,
    ClassTrip,
    ImperativeTrip,
    Trip,
    journal,
)

STYLES = ("imperative", "class", "data")
# Generated: a failure injected at every step k, and none.
FAILURES = [*SERVICES, None]


async def _run(client: Client, task_queue: str, style: str, fail_at: str | None) -> SagaState:
    trip = Trip(trip_id=new_id(style), traveller="Ada", destination="Lisbon", fail_at=fail_at)
    workflow: Any
    arg: Any = trip
    if style == "imperative":
        workflow = ImperativeTrip.run
    elif style == "class":
        workflow = "ClassTrip"
    else:
        workflow = DefinitionSaga.run
        arg = DefinitionSagaInput(name="book-trip", version=1, input=trip.model_dump(mode="json"))
    handle = await client.start_workflow(workflow, arg, id=trip.trip_id, task_queue=task_queue)
    if fail_at is None:
        await handle.result()
    else:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    return await saga_state(handle)


def _events(state: SagaState) -> list[tuple[str, str | None, str]]:
    return [(e.kind.value, e.step, e.status.value if e.status else "") for e in state.timeline]


def _steps(state: SagaState) -> list[dict[str, Any]]:
    drop = {"idempotency_key", "activity_id", "scheduled_at", "closed_at"}
    out = []
    for record in state.steps:
        data = record.model_dump(mode="json", exclude=drop)
        if data["compensation"]:
            data["compensation"].pop("idempotency_key")
            data["compensation"].pop("activity_id")
        out.append(data)
    return out


@pytest.mark.parametrize("fail_at", FAILURES, ids=lambda f: f"fail-{f}" if f else "no-failure")
async def test_three_styles_produce_the_same_timeline_and_effects(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, fail_at: str | None
) -> None:
    register_definition(TRIP_YAML)
    client = saga_dev_env.client
    async with Worker(
        client,
        task_queue=saga_task_queue,
        workflows=[ImperativeTrip, ClassTrip, DefinitionSaga],
        activities=ACTIVITIES,
    ):
        states = {style: await _run(client, saga_task_queue, style, fail_at) for style in STYLES}

    reference = states["imperative"]
    expected_status = "COMPLETED" if fail_at is None else "COMPENSATED"
    assert reference.status.value == expected_status
    for style in ("class", "data"):
        assert _events(states[style]) == _events(reference), style
        assert _steps(states[style]) == _steps(reference), style
        assert states[style].name == reference.name == "book-trip"
        assert states[style].compensation_order == reference.compensation_order
        assert journal(states[style].key) == journal(reference.key), style
    if fail_at is not None:
        k = SERVICES.index(fail_at)
        assert reference.compensation_order == list(reversed(SERVICES[: k + 1]))
