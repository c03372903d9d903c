"""A saga worker process for the crash tests: ScriptedSaga, audit events to a JSONL sink.

Run as ``python -m tests.history.audit_worker ADDRESS TASK_QUEUE JSONL CONTROL_DIR``.
It writes ``CONTROL_DIR/blocked-<workflow id>`` once a step blocks, and releases a
blocked step when ``CONTROL_DIR/release-<workflow id>`` appears (the test process
cannot reach this process's memory).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from temporal_sagas import SagaPlugin
from temporal_sagas.audit._processors import audit_processors
from temporal_sagas.audit._sinks import JsonlAuditSink
from tests.sagas import ACTIVITIES, JOURNAL, RELEASE, ScriptedSaga, release


def _exchange(directory: Path, blocked: list[str]) -> list[str]:
    for wid in blocked:
        (directory / f"blocked-{wid}").touch()
    return [p.name.removeprefix("release-") for p in directory.glob("release-*")]


async def _control(directory: Path) -> None:
    while True:
        blocked = [e.workflow_id for e in JOURNAL if e.outcome == "blocked"]
        for wid in await asyncio.to_thread(_exchange, directory, blocked):
            if not RELEASE.get(wid, asyncio.Event()).is_set():
                release(wid)
        await asyncio.sleep(0.02)


async def main(address: str, task_queue: str, jsonl: str, control: str) -> None:
    structlog.configure(
        processors=[*audit_processors(JsonlAuditSink(jsonl)), structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    client = await Client.connect(address, plugins=[SagaPlugin()])
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ScriptedSaga],
        activities=ACTIVITIES,
        # A killed worker's sticky queue would hold the next task for the default 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    ):
        await asyncio.to_thread((Path(control) / "ready").touch)
        await _control(Path(control))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
