"""`assert_replays`: the same code replays; each mutation fails precisely; patched ones pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from temporal_sagas import SagaError
from temporal_sagas.testing import (
    SagaReplayError,
    assert_replays,
    load_histories,
    replay_histories,
    write_history,
)
from tests.testing import mutation_sagas as m


async def test_unchanged_saga_replays_its_histories(
    v1_completed: WorkflowHistory, v1_compensated: WorkflowHistory
) -> None:
    report = await assert_replays([v1_completed, v1_compensated], sagas=[m.V1])

    assert report.replayed == 2


@pytest.mark.parametrize("mutant", [m.Reordered, m.Added, m.Removed], ids=lambda c: c.__name__)
async def test_changed_steps_fail_the_replay(v1_completed: WorkflowHistory, mutant: type) -> None:
    with pytest.raises(SagaReplayError) as raised:
        await assert_replays(v1_completed, sagas=[mutant])

    (failure,) = raised.value.report.failures
    assert (failure.workflow_id, failure.run_id) == (v1_completed.workflow_id, v1_completed.run_id)
    assert failure.workflow_type == m.NAME
    assert "Nondeterminism" in failure.message or "nondetermin" in failure.message.lower()


async def test_reordered_steps_report_the_event_where_they_diverged(
    v1_completed: WorkflowHistory,
) -> None:
    report = await replay_histories(v1_completed, sagas=[m.Reordered])

    (failure,) = report.failures
    assert failure.event_id is not None
    scheduled = v1_completed.events[failure.event_id - 1].activity_task_scheduled_event_attributes
    assert scheduled.activity_id.endswith("/a")
    assert failure.message.startswith("[TMPRL1100] Nondeterminism error: Activity id")


async def test_changed_compensation_activity_fails_the_replay_of_a_compensated_run(
    v1_compensated: WorkflowHistory,
) -> None:
    with pytest.raises(SagaReplayError) as raised:
        await assert_replays(v1_compensated, sagas=[m.CompensationChanged])

    (failure,) = raised.value.report.failures
    assert "'undo'" in failure.message
    assert failure.event_id is not None
    scheduled = v1_compensated.events[failure.event_id - 1].activity_task_scheduled_event_attributes
    assert scheduled.activity_id.endswith("/b/compensate")


@pytest.mark.parametrize(
    "patched",
    [m.ReorderedPatched, m.AddedPatched, m.RemovedPatched, m.CompensationChangedPatched],
    ids=lambda c: c.__name__,
)
async def test_changes_guarded_by_patched_replay(
    v1_completed: WorkflowHistory, v1_compensated: WorkflowHistory, patched: type
) -> None:
    report = await assert_replays([v1_completed, v1_compensated], sagas=[patched])

    assert report.ok


async def test_replay_error_lists_every_failing_history(
    v1_completed: WorkflowHistory, v1_compensated: WorkflowHistory
) -> None:
    with pytest.raises(SagaReplayError) as raised:
        await assert_replays([v1_completed, v1_compensated], sagas=[m.Removed])

    message = str(raised.value)
    assert "2 of 2" in message
    assert v1_completed.run_id in message
    assert v1_compensated.run_id in message


def test_replay_error_is_an_assertion_error_and_a_saga_error() -> None:
    assert issubclass(SagaReplayError, AssertionError)
    assert issubclass(SagaReplayError, SagaError)


async def test_written_history_loads_with_its_workflow_id(
    v1_completed: WorkflowHistory, tmp_path: Path
) -> None:
    path = write_history(v1_completed, tmp_path)

    (loaded,) = load_histories([tmp_path])

    assert loaded.history.workflow_id == v1_completed.workflow_id
    assert loaded.history.run_id == v1_completed.run_id
    assert loaded.source == str(path)


async def test_plain_cli_export_takes_the_workflow_id_from_the_file_name(
    v1_completed: WorkflowHistory, tmp_path: Path
) -> None:
    path = tmp_path / f"order%2F7__{v1_completed.run_id}.json"
    path.write_text(v1_completed.to_json())

    (loaded,) = load_histories([path])

    assert loaded.history.workflow_id == "order/7"


def test_a_file_that_is_not_a_history_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"hello": 1}))

    with pytest.raises(SagaError, match="is not a Temporal history"):
        load_histories([path])


async def test_replay_report_names_the_file_it_came_from(
    v1_completed: WorkflowHistory, tmp_path: Path
) -> None:
    path = write_history(v1_completed, tmp_path)

    report = await replay_histories([path], sagas=[m.Removed])

    assert report.failures[0].source == str(path)


async def test_replay_in_processes_reports_the_same_as_in_one(
    v1_completed: WorkflowHistory, v1_compensated: WorkflowHistory
) -> None:
    batch = [v1_completed, v1_compensated, v1_completed, v1_compensated, v1_completed]

    single = await replay_histories(batch, sagas=[m.Removed])
    parallel = await replay_histories(batch, sagas=[m.Removed], jobs=2)
    clean = await replay_histories(batch, sagas=[m.V1], jobs=2)

    assert parallel == single
    assert len(parallel.failures) == 5
    assert clean.ok
    assert clean.replayed == 5
