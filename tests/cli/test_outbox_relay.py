"""``sagas outbox relay`` killed between starting a saga and marking its row, then restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from psycopg import AsyncConnection
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas.activities import SQLiteStore
from temporal_sagas.postgres import create_outbox_table, enqueue_saga
from tests.activities import idem_activities
from tests.activities.idem_activities import ACTIVITIES, EFFECTS, Order
from tests.activities.idem_workflows import IdemSaga
from tests.activities.postgres import scratch_database
from tests.sagas import new_id

SAGAS = str(Path(sys.executable).parent / "sagas")


@pytest.fixture(scope="module")
def outbox_dsn() -> Iterator[str]:
    with scratch_database() as dsn:
        yield dsn


@pytest_asyncio.fixture
async def effect_store(tmp_path: Path) -> AsyncIterator[None]:
    store = SQLiteStore(tmp_path / "keys.sqlite3")
    idem_activities.STORE.target = store
    yield
    idem_activities.STORE.target = None
    await store.close()


async def _relay(dsn: str, address: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        SAGAS,
        "outbox",
        "relay",
        "--dsn",
        dsn,
        "--address",
        address,
        "--once",
        "--allow-saga",
        "IdemSaga",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _wait_started(client: Client, workflow_id: str) -> None:
    for _ in range(400):
        try:
            await client.get_workflow_handle(workflow_id).describe()
            return
        except RPCError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"the relay never started {workflow_id}")


async def _unsent(dsn: str) -> list[str]:
    async with await AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT key FROM sagas_outbox WHERE sent_at IS NULL ORDER BY id"
        )
        return [row[0] for row in await cursor.fetchall()]


@pytest.mark.usefixtures("effect_store")
async def test_relay_killed_between_start_and_mark_neither_duplicates_nor_loses_a_row(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, outbox_dsn: str
) -> None:
    client = saga_dev_env.client
    address = client.service_client.config.target_host
    keys = [new_id(f"outbox{i}") for i in range(3)]
    async with await AsyncConnection.connect(outbox_dsn, autocommit=True) as conn:
        await create_outbox_table(conn)
        async with conn.transaction():
            for key in keys:
                await enqueue_saga(
                    conn,
                    key=key,
                    saga="IdemSaga",
                    payload=Order(id=key),
                    task_queue=saga_task_queue,
                )

    async with Worker(
        client, task_queue=saga_task_queue, workflows=[IdemSaga], activities=ACTIVITIES
    ):
        crashing = await _relay(outbox_dsn, address, SAGAS_OUTBOX_PAUSE_AFTER_START="60")
        await _wait_started(client, keys[0])  # started, now sleeping before the mark
        crashing.send_signal(signal.SIGKILL)
        await crashing.wait()
        unsent_after_crash = await _unsent(outbox_dsn)
        restarted = await _relay(outbox_dsn, address)
        code = await asyncio.wait_for(restarted.wait(), 60)
        results = [await client.get_workflow_handle(k).result() for k in keys]
        executions = [(await client.count_workflows(f"WorkflowId = '{k}'")).count for k in keys]

    assert crashing.returncode == -signal.SIGKILL
    assert unsent_after_crash == keys  # the started row was not marked: no row lost yet
    assert code == 0
    assert await _unsent(outbox_dsn) == []
    assert executions == [1, 1, 1]  # the re-start of the first row made no second saga
    assert all(len(r) == 2 for r in results)
    assert all(EFFECTS[f"idem/{k}/{s}"] == 1 for k in keys for s in ("reserve", "charge"))
