"""`SagaSweeper`: a worker-hosted loop that rescues what needs it and counts what is stuck."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.workers._rescuer import SagaSweeper, SweepReport
from tests.sagas import JOURNAL, Script, ScriptedSaga, StepScript, new_id, release, saga_worker

pytestmark = pytest.mark.dev_server

BLOCKED_AT_C = Script(
    steps=(
        StepScript(name="a"),
        StepScript(name="b"),
        StepScript(name="c", action="block", compensation="none"),
    )
)


async def _until(predicate: Any, polls: int = 600) -> None:
    for _ in range(polls):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


def _undone(wid: str, step: str) -> list[str]:
    key = f"scripted/{wid}/{step}/compensate"
    return [e.outcome for e in JOURNAL if e.kind == "compensation" and e.key == key]


async def test_a_sweep_rescues_a_terminated_saga_once(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("sweep")
    sweeper = SagaSweeper(client)
    async with saga_worker(client, saga_task_queue):
        handle = await client.start_workflow(
            ScriptedSaga.run, BLOCKED_AT_C, id=wid, task_queue=saga_task_queue
        )
        await _until(lambda: any(e.step == "c" and e.workflow_id == wid for e in JOURNAL))
        await handle.terminate("deploy script")
        report = SweepReport()
        for _ in range(100):  # bounded: visibility shows the terminated saga in a moment
            report = await sweeper.sweep_once()
            if wid in report.rescued:
                break
            await asyncio.sleep(0.1)
        again = await sweeper.sweep_once()
        await _until(lambda: _undone(wid, "a") == ["ok"])

    assert wid in report.rescued
    assert wid not in again.rescued
    assert _undone(wid, "b") == ["ok"]
    assert _undone(wid, "a") == ["ok"]


async def test_a_sweep_counts_a_saga_unchanged_past_the_bound_as_stuck(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("stuck")
    script = Script(steps=(StepScript(name="a", action="block"),))
    async with saga_worker(client, saga_task_queue):
        handle = await client.start_workflow(
            ScriptedSaga.run, script, id=wid, task_queue=saga_task_queue
        )
        await _until(lambda: any(e.step == "a" and e.workflow_id == wid for e in JOURNAL))
        eager = SagaSweeper(client, stuck_after=timedelta(0))
        patient = SagaSweeper(client, stuck_after=timedelta(days=1000))
        counted = SweepReport()
        for _ in range(100):  # bounded: the RUNNING status reaches visibility in a moment
            counted = await eager.sweep_once()
            if counted.stuck.get("RUNNING", 0) >= 1:
                break
            await asyncio.sleep(0.1)
        none = await patient.sweep_once()
        release(wid)
        await handle.result()

    assert counted.stuck["RUNNING"] >= 1
    assert none.stuck == {"RUNNING": 0, "COMPENSATING": 0, "NEEDS_ATTENTION": 0}
