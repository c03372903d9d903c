"""The embedded-worker example: the app books a trip through its own worker."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from temporalio.testing import WorkflowEnvironment

from examples.app_embedded.app import running_app
from temporal_sagas.workers import WorkerSettings
from tests.workers.procs import free_port

pytestmark = pytest.mark.dev_server


def _call(url: str, body: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:
        return response.status, json.loads(response.read())


async def _status(base: str, trip_id: str, wanted: str) -> str:
    status = ""
    for _ in range(200):
        _, answer = await asyncio.to_thread(_call, f"{base}/trips/{trip_id}")
        status = answer["status"]
        if status == wanted:
            break
        await asyncio.sleep(0.05)
    return status


async def test_app_books_a_trip_with_its_embedded_worker(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = WorkerSettings.load(task_queue=saga_task_queue)

    async with running_app(settings, port=port, client=saga_dev_env.client):
        code, booked = await asyncio.to_thread(
            _call, f"{base}/trips", {"traveller": "Ada", "destination": "Lisbon"}
        )
        status = await _status(base, booked["trip_id"], "COMPLETED")

    assert code == 202
    assert status == "COMPLETED"


async def test_app_reports_a_sold_out_trip_as_compensated(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = WorkerSettings.load(task_queue=saga_task_queue)

    async with running_app(settings, port=port, client=saga_dev_env.client):
        _, booked = await asyncio.to_thread(
            _call,
            f"{base}/trips",
            {"traveller": "Ada", "destination": "Lisbon", "fail_at": "flight"},
        )
        status = await _status(base, booked["trip_id"], "COMPENSATED")

    assert status == "COMPENSATED"


async def test_app_is_ready_while_its_worker_polls(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    port = free_port()
    settings = WorkerSettings.load(task_queue=saga_task_queue)

    async with running_app(settings, port=port, client=saga_dev_env.client):
        code, answer = await asyncio.to_thread(_call, f"http://127.0.0.1:{port}/readyz")

    assert (code, answer) == (200, {"ready": True})
