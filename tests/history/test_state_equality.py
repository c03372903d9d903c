"""Acceptance: live query, fetched history and a `sagas export` file give the same SagaState."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaState, SagaStatus, operator_action, saga_state
from temporal_sagas.cli._main import cli
from temporal_sagas.history import load_history, saga_state_from_history
from tests.sagas import (
    FIXED,
    Script,
    StepScript,
    entries,
    new_id,
    saga_worker,
    start,
    wait_for_status,
    wait_until,
)

SCRIPTS = {
    SagaStatus.COMPLETED: Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", pivot=True, compensation="none"),
            StepScript(name="notify", compensation="none"),
        )
    ),
    SagaStatus.COMPENSATED: Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensate_on="success"),
            StepScript(name="ship", action="fail"),
        )
    ),
    SagaStatus.NEEDS_ATTENTION: Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation="fail_until_fixed"),
            StepScript(name="ship", action="fail"),
        )
    ),
    SagaStatus.FAILED: Script(
        park_on_failure=False,
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation="fail"),
            StepScript(name="ship", action="fail"),
        ),
    ),
    SagaStatus.CANCELLED: Script(
        steps=(StepScript(name="reserve"), StepScript(name="charge", action="block"))
    ),
}


def assert_same_state(expected: SagaState, got: SagaState) -> None:
    for name in SagaState.model_fields:
        assert getattr(got, name) == getattr(expected, name), f"field {name} differs"
    assert got == expected


async def export_with_cli(env: WorkflowEnvironment, wid: str, out: Path) -> Path:

    address = env.client.service_client.config.target_host
    args = ["export", wid, "--out", str(out), "--address", address]
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    (path,) = await asyncio.to_thread(lambda: list(out.glob("*.json")))
    return path


async def drive(handle: WorkflowHandle[Any, Any], status: SagaStatus) -> None:
    wid = handle.id
    if status is SagaStatus.CANCELLED:
        await wait_until(lambda: any(e.step == "charge" for e in entries(wid)))
        await handle.cancel()
    await wait_for_status(handle, status)


@pytest.mark.parametrize("status", list(SCRIPTS), ids=lambda s: s.value.lower())
async def test_live_history_and_exported_file_give_equal_states(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path, status: SagaStatus
) -> None:
    client, wid = saga_dev_env.client, new_id(f"eq-{status.value.lower()}")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, SCRIPTS[status], wid)
        await drive(handle, status)
        live = await saga_state(handle)
        fetched = saga_state_from_history(await handle.fetch_history())
        exported = saga_state_from_history(
            load_history(await export_with_cli(saga_dev_env, wid, tmp_path))
        )
        if status is SagaStatus.NEEDS_ATTENTION:
            await handle.terminate("test over")

    assert live.status is status
    assert_same_state(live, fetched)
    assert_same_state(live, exported)


async def wait_for_queried_status(handle: WorkflowHandle[Any, Any], status: SagaStatus) -> None:
    """Without search attributes, only the live query tells the status."""
    for _ in range(600):
        if (await saga_state(handle)).status is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} never reached {status}")


CLOSED = [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED, SagaStatus.CANCELLED]


@pytest.mark.parametrize("status", CLOSED, ids=lambda s: s.value.lower())
async def test_without_search_attributes_history_still_gives_the_live_state(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, status: SagaStatus
) -> None:
    client, wid = saga_dev_env.client, new_id(f"eq-nosa-{status.value.lower()}")
    script = SCRIPTS[status].model_copy(update={"search_attributes": False})
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        if status is SagaStatus.CANCELLED:
            await wait_until(lambda: any(e.step == "charge" for e in entries(wid)))
            await handle.cancel()
        await wait_for_queried_status(handle, status)
        live = await saga_state(handle)
        history = await handle.fetch_history()

    assert not any(
        e.HasField("upsert_workflow_search_attributes_event_attributes") for e in history.events
    )
    assert_same_state(live, saga_state_from_history(history))


async def test_operator_skip_rebuilds_with_reason_after_close(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("eq-skip")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, SCRIPTS[SagaStatus.NEEDS_ATTENTION], wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        await operator_action(handle, "skip", reason="refunded by hand", operator="ana")
        live = await wait_for_status(handle, SagaStatus.COMPENSATED)
        fetched = saga_state_from_history(await handle.fetch_history())

    assert_same_state(live, fetched)
    assert fetched.step("charge").compensation is not None
    assert fetched.step("charge").compensation.reason == "refunded by hand"


async def test_operator_retry_after_fix_rebuilds_equal(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("eq-retry")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, SCRIPTS[SagaStatus.NEEDS_ATTENTION], wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        FIXED.add(wid)
        await operator_action(handle, "retry", operator="ana", reason="card API back")
        live = await wait_for_status(handle, SagaStatus.COMPENSATED)
        fetched = saga_state_from_history(await handle.fetch_history())

    assert_same_state(live, fetched)
