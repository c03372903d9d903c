"""`SagaPlugin` on a worker: what it does when the worker stops."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.audit._events import AUDIT_MARKER
from temporal_sagas.audit._writer import AUDIT_WRITER
from temporal_sagas.history import audit_trail
from tests.history.audit_support import audit_logging, closed_history
from tests.history.test_audit_trail import COMPENSATED
from tests.sagas import new_id, saga_worker, start


async def test_a_stopped_worker_has_logged_every_audit_event_of_its_sagas(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, wid = saga_dev_env.client, new_id("plugin-flush")
    # A gate instead of a slow writer: the writer thread logs nothing until someone
    # flushes it, so without the plugin's flush no event is logged when the worker
    # returns, however fast the machine.
    gate = threading.Event()
    handle, flush = AUDIT_WRITER._handle, AUDIT_WRITER.flush

    def gated(item: object) -> None:
        gate.wait()
        handle(item)  # type: ignore[arg-type]

    def opening(timeout: float | None = None) -> bool:
        gate.set()
        return flush(timeout)

    with audit_logging(tmp_path / "audit.jsonl") as captured:
        monkeypatch.setattr(AUDIT_WRITER, "_handle", gated)
        monkeypatch.setattr(AUDIT_WRITER, "flush", opening)
        try:
            async with saga_worker(client, saga_task_queue):
                history = await closed_history(
                    await start(client, saga_task_queue, COMPENSATED, wid)
                )
            # Read the stream as it is now, without flushing again.
            lines = [json.loads(line) for line in captured.stream.getvalue().splitlines()]
            logged = [line["event_id"] for line in lines if line.get(AUDIT_MARKER) is True]
        finally:
            gate.set()

    assert gate.is_set()
    assert logged == [event.event_id for event in audit_trail(history)]
