"""`sagas worker` as a real process against the dev server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.sagas import Script, StepScript, new_id, start
from tests.workers.app import Job, SlowSaga
from tests.workers.procs import WorkerProcess, start_worker

pytestmark = pytest.mark.dev_server


@pytest.fixture
def address(saga_dev_env: WorkflowEnvironment) -> str:
    return str(saga_dev_env.client.service_client.config.target_host)


@pytest.fixture
def workers(address: str, saga_task_queue: str, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


async def _slow(client: Client, task_queue: str, marks: Path, seconds: float) -> Job:
    job = Job(key=new_id("slow"), seconds=seconds, marks=str(marks))
    await client.start_workflow(SlowSaga.run, job, id=job.key, task_queue=task_queue)
    return job


def _marked(directory: Path, pattern: str) -> bool:
    """Whether an activity left a mark file matching ``pattern`` (see tests/workers/app.py)."""
    return any(directory.glob(pattern))


async def _until(predicate: object, polls: int = 600) -> None:
    for _ in range(polls):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def test_worker_process_completes_sagas(
    saga_dev_env: WorkflowEnvironment,
    address: str,
    saga_task_queue: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    worker = start_worker(address, saga_task_queue, tmp_path)
    workers.append(worker)
    await worker.ready()
    script = Script(steps=(StepScript(name="a"), StepScript(name="b")))

    handles = [
        await start(saga_dev_env.client, saga_task_queue, script, new_id("proc")) for _ in range(3)
    ]

    outcomes = [await handle.result() for handle in handles]
    assert [[r.step for r in o.receipts] for o in outcomes] == [["a", "b"]] * 3


async def test_sigterm_lets_the_running_activity_finish_and_exits_zero(
    saga_dev_env: WorkflowEnvironment,
    address: str,
    saga_task_queue: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    worker = start_worker(address, saga_task_queue, tmp_path, app="tests.workers.app:slow_app")
    workers.append(worker)
    await worker.ready()
    job = await _slow(saga_dev_env.client, saga_task_queue, tmp_path, seconds=1.5)
    await _until(lambda: _marked(tmp_path, f"{job.key}.started.*"))

    worker.signal(signal.SIGTERM)
    code = await worker.wait()

    assert code == 0, worker.output
    assert _marked(tmp_path, f"{job.key}.finished.{worker.process.pid}")


async def test_second_signal_exits_at_once_without_waiting_for_activities(
    saga_dev_env: WorkflowEnvironment,
    address: str,
    saga_task_queue: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    worker = start_worker(address, saga_task_queue, tmp_path, app="tests.workers.app:slow_app")
    workers.append(worker)
    await worker.ready()
    job = await _slow(saga_dev_env.client, saga_task_queue, tmp_path, seconds=60)
    await _until(lambda: _marked(tmp_path, f"{job.key}.started.*"))

    worker.signal(signal.SIGTERM)
    await _until(lambda: "stopping" in worker.output)
    worker.signal(signal.SIGINT)
    code = await worker.wait()

    assert code == 128 + signal.SIGINT
    assert not _marked(tmp_path, f"{job.key}.finished.*")


async def test_killing_one_of_two_workers_loses_no_saga(
    saga_dev_env: WorkflowEnvironment,
    address: str,
    saga_task_queue: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    first = start_worker(address, saga_task_queue, tmp_path, app="tests.workers.app:slow_app")
    second = start_worker(address, saga_task_queue, tmp_path, app="tests.workers.app:slow_app")
    workers.extend([first, second])
    await first.ready()
    await second.ready()
    jobs = [await _slow(saga_dev_env.client, saga_task_queue, tmp_path, 0.8) for _ in range(4)]
    victim = first.process.pid
    await _until(lambda: _marked(tmp_path, f"*.started.{victim}"))

    first.signal(signal.SIGKILL)
    results = [await saga_dev_env.client.get_workflow_handle(job.key).result() for job in jobs]

    assert results == [job.key for job in jobs]
    assert all(_marked(tmp_path, f"{job.key}.finished.*") for job in jobs)
    # What the killed worker had started was finished by the survivor.
    survivor = second.process.pid
    taken_over = [j.key for j in jobs if _marked(tmp_path, f"{j.key}.started.{victim}")]
    assert taken_over
    assert all(_marked(tmp_path, f"{key}.finished.{survivor}") for key in taken_over)
