"""`sagas worker --app` imports the app from the working directory, or from --app-dir.

As uvicorn, celery and gunicorn do: a project's own modules import without PYTHONPATH.
The worker runs as the installed ``sagas`` console script, which (unlike ``python -m``)
does not put the working directory on ``sys.path`` by itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.sagas import new_id
from tests.workers.procs import WorkerProcess, free_port

pytestmark = pytest.mark.dev_server

APP_MODULE = """
from temporalio import activity, workflow

from temporal_sagas import Saga
from temporal_sagas.workers import SagaApp


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        saga = Saga("greeting", key=workflow.info().workflow_id)
        async with saga:
            return await saga.step("greet", greet, name)


app = SagaApp(task_queue="greetings", sagas=[Greeting], activities=[greet])
"""

SAGAS = Path(sys.executable).parent / "sagas"


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "greeting_app.py").write_text(APP_MODULE, encoding="utf-8")
    return root


def _worker(address: str, task_queue: str, cwd: Path, log: Path, *extra: str) -> WorkerProcess:
    health = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SAGAS), "worker", "--app", "greeting_app:app", "--address", address,
             "--task-queue", task_queue, "--health-address", f"127.0.0.1:{health}", *extra],
            cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    return WorkerProcess(process=process, log=log, health_port=health)


async def _greets(env: WorkflowEnvironment, task_queue: str) -> str:
    handle = await env.client.start_workflow(
        "Greeting", "Ada", id=new_id("greeting"), task_queue=task_queue
    )
    return str(await asyncio.wait_for(handle.result(), 60))


async def test_worker_imports_the_app_from_the_working_directory(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    worker_procs: list[WorkerProcess],
) -> None:
    project = _project(tmp_path / "project")
    address = saga_dev_env.client.service_client.config.target_host
    worker = _worker(address, saga_task_queue, project, tmp_path / "w.log")
    worker_procs.append(worker)
    await worker.ready()

    assert await _greets(saga_dev_env, saga_task_queue) == "hello Ada"


async def test_worker_imports_the_app_from_app_dir(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    worker_procs: list[WorkerProcess],
) -> None:
    project = _project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    address = saga_dev_env.client.service_client.config.target_host
    worker = _worker(
        address, saga_task_queue, elsewhere, tmp_path / "w.log", "--app-dir", str(project)
    )
    worker_procs.append(worker)
    await worker.ready()

    assert await _greets(saga_dev_env, saga_task_queue) == "hello Ada"


def test_an_app_missing_from_the_working_directory_says_where_it_looked(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    done = subprocess.run(
        [str(SAGAS), "worker", "--app", "greeting_app:app"],
        cwd=empty, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert "cannot import module 'greeting_app'" in done.stderr
    assert str(empty) in done.stderr
