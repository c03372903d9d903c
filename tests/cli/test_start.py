"""`sagas start`: class and YAML sagas started from the command line, input checked first."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaInputError, SagaStatus, saga_state
from temporal_sagas.cli._main import cli
from temporal_sagas.workers import WorkerSettings, build_worker
from tests.cli.bounded import run_sagas
from tests.cli.start_app import app
from tests.definitions import hostile
from tests.sagas import new_id
from tests.workflows.trip_styles import TRIP_YAML, journal

pytestmark = pytest.mark.dev_server

APP = "tests.cli.start_app:app"


async def sagas(env: WorkflowEnvironment, *args: str) -> Result:
    address = env.client.service_client.config.target_host
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--address", address])
    return result


def trip(trip_id: str, **extra: str) -> str:
    return json.dumps({"trip_id": trip_id, "traveller": "Ada", "destination": "Lisbon", **extra})


async def no_workflow(env: WorkflowEnvironment, workflow_id: str) -> bool:
    try:
        await env.client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        return err.status is RPCStatusCode.NOT_FOUND
    return False


async def test_start_runs_a_class_saga_and_waits_for_its_result(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("start-class")
    settings = WorkerSettings(task_queue=saga_task_queue)
    async with build_worker(saga_dev_env.client, app, settings):
        result = await sagas(
            saga_dev_env, "start", "book-trip", "--app", APP, "--id", wid,
            "--task-queue", saga_task_queue, "--input", trip(wid), "--wait",
        )  # fmt: skip
        state = await saga_state(saga_dev_env.client.get_workflow_handle(wid))

    assert result.exit_code == 0, result.output
    assert f"runs as workflow {wid}" in result.output
    printed = json.loads(result.output[result.output.index("{") :])
    assert sorted(printed) == ["car", "flight", "hotel"]
    assert journal(wid) == [("reserved", "car"), ("reserved", "hotel"), ("reserved", "flight")]
    assert state.status is SagaStatus.COMPLETED


async def test_start_runs_a_yaml_saga_from_its_definition_file(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    wid = new_id("start-yaml")
    (tmp_path / "input.json").write_text(trip(wid), encoding="utf-8")
    settings = WorkerSettings(task_queue=saga_task_queue)
    async with build_worker(saga_dev_env.client, app, settings):
        result = await sagas(
            saga_dev_env, "start", "book-trip@1", "--definition", str(TRIP_YAML), "--id", wid,
            "--task-queue", saga_task_queue, "--input", f"@{tmp_path / 'input.json'}", "--wait",
        )  # fmt: skip
        history = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    assert result.exit_code == 0, result.output
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "DefinitionSaga"
    assert journal(wid) == [("reserved", "car"), ("reserved", "hotel"), ("reserved", "flight")]


async def test_starting_twice_returns_the_running_saga(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("start-twice")
    args = ["start", "book-trip", "--app", APP, "--id", wid, "--task-queue", saga_task_queue]
    first = await sagas(saga_dev_env, *args, "--input", trip(wid, hold_at="car"))
    second = await sagas(saga_dev_env, *args, "--input", trip(wid, hold_at="car"))
    handle = saga_dev_env.client.get_workflow_handle(wid)
    run_id = (await handle.describe()).run_id
    await handle.terminate("test over")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert f"(run {run_id})" in first.output
    assert f"(run {run_id})" in second.output


async def test_a_class_saga_input_that_does_not_fit_starts_nothing(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("start-bad-class")
    bad = json.dumps({"trip_id": wid, "traveller": "Ada", "card": "4111111111111111"})

    result = await sagas(
        saga_dev_env, "start", "ClassTrip", "--app", APP, "--id", wid,
        "--task-queue", saga_task_queue, "--input", bad,
    )  # fmt: skip

    assert result.exit_code != 0
    assert isinstance(result.exception, SagaInputError)
    assert "destination: Field required" in str(result.exception)
    assert "4111111111111111" not in str(result.exception)
    assert await no_workflow(saga_dev_env, wid)


async def test_a_yaml_saga_input_that_breaks_its_schema_starts_nothing(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("start-bad-yaml")

    result = await sagas(
        saga_dev_env, "start", "book-trip@1", "--definition", str(TRIP_YAML), "--id", wid,
        "--task-queue", saga_task_queue, "--input", json.dumps({"trip_id": wid}),
    )  # fmt: skip

    assert result.exit_code != 0
    assert isinstance(result.exception, SagaInputError)
    assert "'traveller' is a required property" in str(result.exception)
    assert await no_workflow(saga_dev_env, wid)


async def test_input_that_is_not_json_is_refused_with_its_position(
    saga_dev_env: WorkflowEnvironment,
) -> None:
    result = await sagas(
        saga_dev_env, "start", "book-trip", "--app", APP, "--id", new_id("start-json"),
        "--input", '{"trip_id": ',
    )  # fmt: skip

    assert isinstance(result.exception, SagaInputError)
    assert "--input is not JSON" in str(result.exception)
    assert "line 1, column 13" in str(result.exception)


async def test_an_unknown_saga_name_lists_the_known_ones(saga_dev_env: WorkflowEnvironment) -> None:
    result = await sagas(
        saga_dev_env, "start", "book-boat", "--app", APP, "--id", new_id("start-unknown"),
    )  # fmt: skip

    assert isinstance(result.exception, SagaInputError)
    assert "no saga named 'book-boat'" in str(result.exception)
    assert "ClassTrip" in str(result.exception)
    assert "book-trip@v1" in str(result.exception)


async def test_a_saga_that_compensates_prints_its_failure_and_exits_one(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = new_id("start-fails")
    settings = WorkerSettings(task_queue=saga_task_queue)
    async with build_worker(saga_dev_env.client, app, settings):
        result = await sagas(
            saga_dev_env, "start", "book-trip", "--app", APP, "--id", wid,
            "--task-queue", saga_task_queue, "--input", trip(wid, fail_at="flight"), "--wait",
        )  # fmt: skip
        history = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    assert result.exit_code == 1
    assert "did not complete: SagaCompensated" in result.output
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED


def test_a_hostile_definition_file_is_one_error_line_and_starts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(hostile.alias_bomb())
    line = hostile.line_of(path.read_text(), "&a")

    run = run_sagas(
        tmp_path,
        *("start", "hostile", "--input", "{}", "--id", "x", "--task-queue", "q"),
        *("--definition", str(path)),
    )

    assert run.code == 1
    assert run.stderr.splitlines() == [
        f"error: invalid saga definition: {path}:{line}: input_schema.a: YAML anchors and "
        "aliases are not allowed in a definition (hint: write the repeated part out in full "
        "(use `defaults:` for shared options))"
    ]
    assert run.max_rss_mb < 200
