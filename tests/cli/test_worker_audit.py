"""`sagas worker` with SAGAS_AUDIT_LOG writes each saga's audit trail once, redacted."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.audit import read_jsonl
from temporal_sagas.history import audit_trail
from tests.sagas import Script, StepScript, new_id, start
from tests.workers.procs import WorkerProcess, free_port, sagas


async def test_worker_audit_log_equals_the_history_derived_trail(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    audit_log, health = tmp_path / "audit.jsonl", free_port()
    address = str(saga_dev_env.client.service_client.config.target_host)
    log = tmp_path / "worker.log"
    worker = WorkerProcess(
        process=sagas(
            "worker",
            "--app",
            "tests.workers.app:app",
            "--address",
            address,
            "--task-queue",
            saga_task_queue,
            "--health-address",
            f"127.0.0.1:{health}",
            "--log-format",
            "json",
            log=log,
            env={"SAGAS_AUDIT_LOG": str(audit_log)},
        ),
        log=log,
        health_port=health,
    )
    try:
        await worker.ready()
        wid = new_id("audited")
        script = Script(steps=(StepScript(name="a"), StepScript(name="b", action="fail")))
        handle = await start(saga_dev_env.client, saga_task_queue, script, wid)
        with pytest.raises(WorkflowFailureError):  # the saga compensates by design
            await handle.result()
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0
    finally:
        worker.stop()

    trail = audit_trail(await handle.fetch_history())
    logged = [e for e in read_jsonl(audit_log.read_text().splitlines()) if e.workflow_id == wid]
    assert [e.event_id for e in logged] == [e.event_id for e in trail]
    assert [e.hash for e in logged] == [e.hash for e in trail]
