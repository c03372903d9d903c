"""A `sagas worker` process serves Prometheus metrics and health probes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.sagas import Script, StepScript, new_id, start
from tests.workers.procs import WorkerProcess, free_port, http_get, start_worker

pytestmark = pytest.mark.dev_server


@pytest.fixture
def worker(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> Iterator[tuple[WorkerProcess, int]]:
    address = str(saga_dev_env.client.service_client.config.target_host)
    metrics = free_port()
    process = start_worker(
        address, saga_task_queue, tmp_path, "--metrics-address", f"127.0.0.1:{metrics}"
    )
    yield process, metrics
    process.stop()


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _scrape_until(port: int, name: str, minimum: float, **labels: str) -> str:
    text = ""
    for _ in range(200):
        _, text = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
        if _sample(text, name, **labels) >= minimum:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} {labels} never reached {minimum}:\n{text[-3000:]}")


async def test_readyz_answers_ready_once_the_worker_polls(
    worker: tuple[WorkerProcess, int],
) -> None:
    process, _ = worker
    await process.ready()

    status, body = await asyncio.to_thread(
        http_get, f"http://127.0.0.1:{process.health_port}/readyz"
    )

    assert status == 200
    assert '"ready"' in body


async def test_healthz_answers_alive(worker: tuple[WorkerProcess, int]) -> None:
    process, _ = worker
    await process.ready()

    status, body = await asyncio.to_thread(
        http_get, f"http://127.0.0.1:{process.health_port}/healthz"
    )

    assert (status, body) == (200, '{"status": "alive"}')


async def test_metrics_count_completed_and_compensated_sagas(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, worker: tuple[WorkerProcess, int]
) -> None:
    process, port = worker
    await process.ready()
    saga = new_id("metered")
    ok = Script(saga=saga, steps=(StepScript(name="a"),))
    failing = Script(saga=saga, steps=(StepScript(name="a"), StepScript(name="b", action="fail")))

    await (await start(saga_dev_env.client, saga_task_queue, ok, new_id("m"))).result()
    with pytest.raises(WorkflowFailureError):
        await (await start(saga_dev_env.client, saga_task_queue, failing, new_id("m"))).result()

    text = await _scrape_until(port, "saga_compensated_total", 1, saga=saga)
    assert _sample(text, "saga_started_total", saga=saga) == 2
    assert _sample(text, "saga_completed_total", saga=saga) == 1


async def test_metrics_include_step_and_compensation_latencies(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, worker: tuple[WorkerProcess, int]
) -> None:
    process, port = worker
    await process.ready()
    saga = new_id("timed")
    failing = Script(saga=saga, steps=(StepScript(name="a"), StepScript(name="b", action="fail")))

    with pytest.raises(WorkflowFailureError):
        await (await start(saga_dev_env.client, saga_task_queue, failing, new_id("m"))).result()

    text = await _scrape_until(port, "saga_compensation_latency_count", 2, saga=saga)
    assert _sample(text, "saga_step_latency_count", saga=saga, step="a", outcome="ok") == 1
    assert _sample(text, "saga_step_latency_count", saga=saga, step="b", outcome="failed") == 2


async def test_metrics_include_temporals_own_worker_metrics(
    worker: tuple[WorkerProcess, int],
) -> None:
    process, port = worker
    await process.ready()

    _, text = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")

    assert re.search(r"^temporal_num_pollers\{", text, re.MULTILINE)
