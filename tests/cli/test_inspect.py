"""`sagas show|list|plan|export` and the operator commands against the dev server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaStatus
from temporal_sagas.cli._main import cli
from tests.cli.bounded import assert_refused_history_file, run_sagas
from tests.history.hostile import HOSTILE_KINDS, hostile_history
from tests.sagas import (
    FIXED,
    Script,
    StepScript,
    new_id,
    saga_worker,
    start,
    wait_for_status,
)

PARKING = Script(
    steps=(
        StepScript(name="reserve"),
        StepScript(name="charge", compensation="fail_until_fixed"),
        StepScript(name="ship", action="fail"),
    )
)


async def sagas(env: WorkflowEnvironment | None, *args: str) -> Result:

    extra = ["--address", env.client.service_client.config.target_host] if env else []
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, *extra])
    return result


async def test_show_list_plan_and_retry_work_on_a_parked_saga(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("cli-park")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, PARKING, wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        shown = await sagas(saga_dev_env, "show", wid)
        listed = await sagas(saga_dev_env, "list", "--status", "needs_attention", "--json")
        planned = await sagas(saga_dev_env, "plan", wid, "--json")
        FIXED.add(wid)
        retried = await sagas(saga_dev_env, "retry", wid, "--reason", "fixed", "--operator", "ana")
        await wait_for_status(handle, SagaStatus.COMPENSATED)

    assert shown.exit_code == 0, shown.output
    assert "now: parked on charge" in shown.output
    assert wid in [json.loads(line)["workflow_id"] for line in listed.output.splitlines()]
    assert [p["step"] for p in json.loads(planned.output)] == ["charge", "reserve"]
    assert json.loads(planned.output)[0]["input"] == [{"step": "charge", "mode": "ok"}]
    assert retried.exit_code == 0, retried.output
    assert "retry accepted" in retried.output


async def test_cancel_compensates_and_closes_cancelled(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("cli-cancel")
    script = Script(steps=(StepScript(name="reserve"), StepScript(name="hold", sleep_before=60)))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_for_status(handle, SagaStatus.RUNNING)
        result = await sagas(saga_dev_env, "cancel", wid, "--reason", "customer left")
        state = await wait_for_status(handle, SagaStatus.CANCELLED)

    assert result.exit_code == 0, result.output
    assert state.step("reserve").compensation is not None
    assert state.step("reserve").compensation.status.value == "COMPLETED"


async def test_unknown_id_is_one_clear_error(saga_dev_env: WorkflowEnvironment) -> None:
    result = await sagas(saga_dev_env, "show", "no-such-saga")
    assert result.exit_code != 0
    assert "no saga 'no-such-saga'" in str(result.exception)


async def test_wrong_namespace_is_one_clear_error(saga_dev_env: WorkflowEnvironment) -> None:
    result = await sagas(saga_dev_env, "show", "x", "--namespace", "nope")
    assert result.exit_code != 0
    assert "namespace 'nope' does not exist" in str(result.exception)


async def test_unreachable_server_fails_fast_with_a_clear_error() -> None:
    result = await sagas(
        None, "show", "x", "--address", "127.0.0.1:1", "--connect-timeout-seconds", "2"
    )
    assert result.exit_code != 0
    assert "the Temporal server at 127.0.0.1:1" in str(result.exception)


async def test_malformed_history_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = await sagas(None, "show", "--history", str(bad))
    assert result.exit_code != 0
    assert "is not valid JSON" in str(result.exception)


async def test_list_by_name_shows_only_the_sagas_of_that_name(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client = saga_dev_env.client
    names = {new_id("payments"): new_id("cli-pay"), new_id("shipping"): new_id("cli-ship")}
    async with saga_worker(client, saga_task_queue):
        for name, wid in names.items():
            script = Script(saga=name, steps=(StepScript(name="a"),))
            await (await start(client, saga_task_queue, script, wid)).result()

    listed: dict[str, list[str]] = {}
    for name, wid in names.items():
        # Visibility catches up with the upserts in its own time: ask until the saga shows.
        for _ in range(100):
            result = await sagas(saga_dev_env, "list", "--name", name, "--json")
            listed[name] = [json.loads(line)["workflow_id"] for line in result.output.splitlines()]
            if wid in listed[name]:
                break
            await asyncio.sleep(0.1)
    assert listed == {name: [wid] for name, wid in names.items()}


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_show_refuses_a_hostile_history_file_in_one_line_within_200_mb(
    tmp_path: Path, kind: str
) -> None:
    path = hostile_history(tmp_path, kind)

    run = run_sagas(tmp_path, "show", "--history", str(path))

    assert_refused_history_file(run, path)
