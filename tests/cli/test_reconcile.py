"""`sagas reconcile`: a saga's record held against what its probes find now.

The probe (tests/sagas.py `probe_act`) reads the activities' journal: an effect is
there when its action recorded ``ok`` under the key and no compensation undid it. A
divergence is seeded by editing that journal behind the saga's back.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.activities import SQLiteStore
from temporal_sagas.cli._main import cli
from tests.sagas import JOURNAL, Script, StepScript, new_id, release, saga_worker, start

pytestmark = pytest.mark.dev_server

PROBED = Script(
    steps=(
        StepScript(name="reserve", probe=True),
        StepScript(name="charge", probe=True),
        StepScript(name="notify"),  # no probe: never asked
    )
)


async def sagas(env: WorkflowEnvironment, *args: str) -> Result:
    address = env.client.service_client.config.target_host
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--address", address])
    return result


def rows(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


async def test_a_saga_whose_effects_are_all_there_reconciles_clean(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("recon-clean")
    async with saga_worker(client, saga_task_queue):
        await (await start(client, saga_task_queue, PROBED, wid)).result()
        result = await sagas(saga_dev_env, "reconcile", wid, "--json")

    assert result.exit_code == 0, result.output
    assert [(r["step"], r["recorded"], r["effect"], r["verdict"]) for r in rows(result)] == [
        ("reserve", "done", True, "agrees"),
        ("charge", "done", True, "agrees"),
    ]


async def test_an_effect_removed_behind_the_saga_s_back_is_a_divergence(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("recon-gone")
    async with saga_worker(client, saga_task_queue):
        await (await start(client, saga_task_queue, PROBED, wid)).result()
        # Someone reverses the charge by hand, outside the saga.
        JOURNAL[:] = [
            e for e in JOURNAL if not (e.key == f"scripted/{wid}/charge" and e.outcome == "ok")
        ]
        result = await sagas(saga_dev_env, "reconcile", wid)

    assert result.exit_code == 1
    assert "charge           done         diverges: recorded as done, effect absent" in (
        result.output
    )
    assert "2 check(s), 1 divergent" in result.output


async def test_a_compensated_step_whose_effect_is_still_there_is_a_divergence(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("recon-back")
    script = Script(
        steps=(StepScript(name="reserve", probe=True), StepScript(name="charge", action="fail"))
    )
    async with saga_worker(client, saga_task_queue):
        with pytest.raises(WorkflowFailureError):
            await (await start(client, saga_task_queue, script, wid)).result()
        clean = await sagas(saga_dev_env, "reconcile", wid, "--json")
        # The undo's record is lost: the reservation is, as far as the probe sees, back.
        JOURNAL[:] = [
            e
            for e in JOURNAL
            if not (e.step_key == f"scripted/{wid}/reserve" and e.kind == "compensation")
        ]
        diverged = await sagas(saga_dev_env, "reconcile", wid, "--json")

    assert clean.exit_code == 0, clean.output
    assert [(r["step"], r["recorded"], r["verdict"]) for r in rows(clean)] == [
        ("reserve", "compensated", "agrees")
    ]
    assert diverged.exit_code == 1
    assert [r["verdict"] for r in rows(diverged)] == ["diverges: compensated, effect still present"]


async def test_stuck_for_reports_a_saga_unchanged_for_that_long(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("recon-stuck")
    script = Script(steps=(StepScript(name="reserve", action="block"),))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        found: list[dict[str, Any]] = []
        for _ in range(100):  # bounded: visibility and the status upsert need a moment
            await asyncio.sleep(0.1)
            result = await sagas(
                saga_dev_env, "reconcile", "--query", "SagaName = 'nothing-else'",
                "--stuck-for", "1s", "--json",
            )  # fmt: skip
            found = [r for r in rows(result) if r["workflow_id"] == wid]
            if found:
                break
        release(wid)
        await handle.result()

    assert result.exit_code == 1
    assert [(r["recorded"], r["verdict"].split(" since ")[0]) for r in found] == [
        ("RUNNING", "stuck: RUNNING")
    ]


async def test_records_held_for_a_saga_temporal_does_not_know_are_a_divergence(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, real, ghost = saga_dev_env.client, new_id("recon-owned"), new_id("recon-ghost")
    async with saga_worker(client, saga_task_queue):
        await (
            await start(client, saga_task_queue, Script(steps=(StepScript(name="a"),)), real)
        ).result()
    store = SQLiteStore(tmp_path / "records.sqlite3")
    await store.open()
    for workflow_id in (real, ghost):
        key = f"scripted/{workflow_id}/a"
        await store.claim(key, "worker-1", lease=timedelta(minutes=1))
        await store.complete(key, "worker-1", "{}", ttl=timedelta(days=7), workflow_id=workflow_id)
    await store.close()

    result = await sagas(
        saga_dev_env, "reconcile", "--query", "WorkflowId = 'nothing'",
        "--sqlite-store", str(tmp_path / "records.sqlite3"), "--json",
    )  # fmt: skip

    assert result.exit_code == 1
    assert [(r["workflow_id"], r["verdict"]) for r in rows(result)] == [
        (ghost, "diverges: the store holds records for a saga Temporal does not know")
    ]
