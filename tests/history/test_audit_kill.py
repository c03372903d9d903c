"""Acceptance: a worker SIGKILLed mid-saga and restarted logs every event once, no gaps."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from temporal_sagas.audit._events import AuditEvent
from temporal_sagas.audit._sinks import read_jsonl
from temporal_sagas.history import audit_trail
from tests.history.audit_support import closed_history, same_events
from tests.sagas import Script, StepScript, new_id, start, wait_until

ROOT = Path(__file__).parents[2]


def _worker(address: str, queue: str, jsonl: Path, control: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.history.audit_worker", address, queue]
    return subprocess.Popen(
        [*args, str(jsonl), str(control)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _logged(jsonl: Path) -> list[AuditEvent]:
    return read_jsonl(jsonl.read_text().splitlines()) if jsonl.exists() else []


async def test_worker_killed_mid_saga_logs_every_event_once(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-kill")
    address = client.service_client.config.target_host
    jsonl, control = tmp_path / "audit.jsonl", tmp_path / "control"
    control.mkdir()
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", action="block"),
            StepScript(name="ship", action="fail"),
        )
    )
    first = _worker(address, saga_task_queue, jsonl, control)
    second: subprocess.Popen[bytes] | None = None
    try:
        await wait_until(lambda: (control / "ready").exists(), polls=400)
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: (control / f"blocked-{wid}").exists(), polls=400)
        # The worker logs audit events from a background thread: give it its moment.
        await wait_until(lambda: len(_logged(jsonl)) >= 4, polls=200)
        logged_before = _logged(jsonl)
        os.kill(first.pid, signal.SIGKILL)
        await asyncio.to_thread(first.wait)
        (control / f"blocked-{wid}").unlink()
        (control / f"release-{wid}").touch()
        second = _worker(address, saga_task_queue, jsonl, control)
        history = await closed_history(handle)
        closing = len(audit_trail(history))
        await wait_until(lambda: len(_logged(jsonl)) >= closing, polls=200)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                await asyncio.to_thread(proc.wait)

    trail = audit_trail(history)
    kinds = ["saga.started", "step.scheduled", "step.completed", "step.scheduled"]
    assert [e.kind.value for e in logged_before] == kinds
    same_events(_logged(jsonl), trail)
    assert trail[-1].detail == "COMPENSATED"
