"""A saga worker process for the chaos suite, meant to be SIGKILLed.

Run as ``python -m tests.chaos.worker ADDRESS TASK_QUEUE DSN FAULT_RATE AUDIT_FILE
READY_FILE [WORKLOAD]``; WORKLOAD is ``transfers`` (the default) or ``effects``
(`tests.chaos.effects`, where FAULT_RATE is ignored). It writes the saga audit events
live to the JSON-lines sink ``AUDIT_FILE`` (shared by every worker process, as a
deployment's would be), touches ``READY_FILE`` once polling, and polls until killed;
when the server is gone for good (restarts are survived by the SDK's own retries) it
exits non-zero and the test starts another. SIGTERM flushes the audit queue first and
exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from examples.money_transfer.activities import (
    ACTIVITIES,
    DSN_ENV,
    bank,
    inject_faults,
    transient_faults,
)
from examples.money_transfer.workflows import Transfer
from temporal_sagas import SagaPlugin
from temporal_sagas.audit import JsonlAuditSink, audit_processors, flush_audit_log
from temporal_sagas.workers import configure_logging
from tests.chaos.effects import EFFECTS_DSN_ENV, Effect, external_write


def _flush_and_exit(signum: int, frame: object) -> None:
    flush_audit_log(5)
    os._exit(0)


async def main(
    address: str, task_queue: str, dsn: str, fault_rate: float, ready: Path, workload: str
) -> None:
    client = await Client.connect(address, plugins=[SagaPlugin()])
    if workload == "effects":
        os.environ[EFFECTS_DSN_ENV] = dsn
        workflows, activities = [Effect], [external_write]
    else:
        os.environ[DSN_ENV] = dsn  # the activities find their database here
        await bank().open()
        inject_faults(transient_faults(fault_rate))
        workflows, activities = [Transfer], list(ACTIVITIES)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        # A killed worker's sticky queue would hold the next task for the default 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    )
    running = asyncio.create_task(worker.run())
    await asyncio.to_thread(ready.touch)
    await running


if __name__ == "__main__":
    address, queue, dsn, rate, audit_file, ready = sys.argv[1:7]
    workload = sys.argv[7] if len(sys.argv) > 7 else "transfers"
    # The log lines themselves go nowhere; the audit sink is what the test reads.
    configure_logging(
        "json",
        "INFO",
        stream=open(os.devnull, "w"),  # noqa: SIM115 - lives as long as the process
        processors=audit_processors(JsonlAuditSink(audit_file, fsync=False)),
    )
    signal.signal(signal.SIGTERM, _flush_and_exit)
    code = 0
    try:
        asyncio.run(main(address, queue, dsn, float(rate), Path(ready), workload))
    except BaseException:  # any end is a crash here: the test starts another worker
        code = 1
    os._exit(code)
