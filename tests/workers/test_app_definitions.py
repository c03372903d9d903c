"""A SagaApp's declarative definitions are registered and checked when its worker is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaDefinitionError, SagaStatus, saga_state
from temporal_sagas.definitions import (
    DEFINITIONS,
    DefinitionSaga,
    DefinitionSagaInput,
    parse_definition,
)
from temporal_sagas.workers import SagaApp, WorkerSettings, build_worker
from tests.sagas import new_id
from tests.workflows.trip_styles import ACTIVITIES, TRIP_YAML, Trip


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide registry, empty for this test: nothing another test registered."""
    monkeypatch.setattr(DEFINITIONS, "_definitions", {})


@pytest.mark.usefixtures("empty_registry")
async def test_worker_built_from_an_app_runs_its_yaml_definition(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    assert DEFINITIONS.get("book-trip", 1) is None  # only the app can bring it
    app = SagaApp(
        task_queue=saga_task_queue,
        definitions=[parse_definition(TRIP_YAML.read_text())],
        activities=ACTIVITIES,
    )
    client, wid = saga_dev_env.client, new_id("app-def")
    trip = Trip(trip_id=wid, traveller="Ada", destination="Lisbon")
    async with build_worker(client, app, WorkerSettings(task_queue=saga_task_queue)):
        handle = await client.start_workflow(
            DefinitionSaga.run,
            DefinitionSagaInput(name="book-trip", version=1, input=trip.model_dump(mode="json")),
            id=wid,
            task_queue=saga_task_queue,
        )
        await handle.result()
        state = await saga_state(handle)

    assert state.status is SagaStatus.COMPLETED


async def test_a_definition_naming_an_unregistered_activity_stops_the_worker_build(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    broken = (
        TRIP_YAML.read_text()
        .replace("name: book-trip", "name: book-trip-broken")
        .replace("reserve_car", "reserve_limo")
    )
    app = SagaApp(
        task_queue=saga_task_queue, definitions=[parse_definition(broken)], activities=ACTIVITIES
    )
    with pytest.raises(SagaDefinitionError, match="reserve_limo"):
        build_worker(saga_dev_env.client, app, WorkerSettings(task_queue=saga_task_queue))


def test_an_unregistered_activity_is_named_with_the_definition_file_and_line(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    text = (
        TRIP_YAML.read_text()
        .replace("name: book-trip", "name: book-trip-misspelt")
        .replace("reserve_car", "reserve_limo")
    )
    path = tmp_path / "misspelt.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "reserve_limo" in row)
    app = SagaApp(task_queue=saga_task_queue, definitions=[path], activities=ACTIVITIES)

    with pytest.raises(SagaDefinitionError) as raised:
        build_worker(saga_dev_env.client, app, WorkerSettings(task_queue=saga_task_queue))

    assert f"{path}:{line}: steps[0].action: unknown activity 'reserve_limo'" in str(raised.value)
    assert "book-trip-misspelt@v1" in str(raised.value)
