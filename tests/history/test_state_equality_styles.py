"""All three authoring styles: the live SagaState equals the one rebuilt from history and export."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas.definitions import DefinitionSaga, register_definition
from temporal_sagas.history import dump_history, load_history, saga_state_from_history
from tests.workflows.test_declarative_styles import STYLES, _run
from tests.workflows.trip_styles import ACTIVITIES, TRIP_YAML, ClassTrip, ImperativeTrip


@pytest.mark.parametrize("fail_at", ["hotel", None], ids=["compensated", "completed"])
@pytest.mark.parametrize("style", STYLES)
async def test_live_history_and_export_agree_for_every_style(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    style: str,
    fail_at: str | None,
) -> None:
    register_definition(TRIP_YAML)
    client = saga_dev_env.client
    async with Worker(
        client,
        task_queue=saga_task_queue,
        workflows=[ImperativeTrip, ClassTrip, DefinitionSaga],
        activities=ACTIVITIES,
    ):
        live = await _run(client, saga_task_queue, style, fail_at)
    history = await client.get_workflow_handle(live.workflow_id).fetch_history()
    exported = tmp_path / "saga.json"
    exported.write_text(dump_history(history))

    fetched = saga_state_from_history(history)
    from_file = saga_state_from_history(load_history(exported, live.workflow_id))
    for field in type(live).model_fields:
        assert getattr(fetched, field) == getattr(live, field), field
        assert getattr(from_file, field) == getattr(live, field), field
    assert fetched == live == from_file
