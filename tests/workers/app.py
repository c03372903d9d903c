"""Saga apps that the worker tests run in `sagas worker` subprocesses.

`app` serves tests/sagas.py's ScriptedSaga. `slow_app` serves `SlowSaga`, whose one
step sleeps (heartbeating) for as long as its input says, and records in files under
the input's directory that it started and finished, so a test in another process
can see what the worker did.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from temporal_sagas import Saga, StepOptions
from temporal_sagas.workers import SagaApp
from tests.sagas import ACTIVITIES, ScriptedSaga


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    seconds: float
    marks: str


@activity.defn
async def slow_work(job: Job) -> str:
    marks = Path(job.marks)
    (marks / f"{job.key}.started.{os.getpid()}").touch()
    deadline = asyncio.get_running_loop().time() + job.seconds
    while asyncio.get_running_loop().time() < deadline:
        activity.heartbeat()
        await asyncio.sleep(0.1)
    (marks / f"{job.key}.finished.{os.getpid()}").touch()
    return job.key


@activity.defn
async def undo_slow_work(job: Job, result: str | None) -> None:
    (Path(job.marks) / f"{job.key}.undone").touch()


SLOW_OPTIONS = StepOptions(
    start_to_close_timeout=timedelta(minutes=2),
    # A killed worker's attempt is noticed within a second and retried elsewhere.
    heartbeat_timeout=timedelta(seconds=1),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
)


@workflow.defn
class SlowSaga:
    @workflow.run
    async def run(self, job: Job) -> str:
        saga = Saga("slow", key=job.key, action_options=SLOW_OPTIONS)
        async with saga:
            result: str = await saga.step("work", slow_work, job, compensate=undo_slow_work)
        return result


app = SagaApp(task_queue="workers-tests", sagas=[ScriptedSaga], activities=ACTIVITIES)
slow_app = SagaApp(
    task_queue="workers-tests-slow",
    sagas=[SlowSaga],
    activities=[slow_work, undo_slow_work],
    # A killed worker's sticky workflow tasks move to the normal queue after a second.
    worker_options={"sticky_queue_schedule_to_start_timeout": timedelta(seconds=1)},
)
not_an_app = "a string"
