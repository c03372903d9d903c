"""`SagaPlugin` on a worker: what it does when the worker stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.audit._events import AUDIT_MARKER
from temporal_sagas.audit._writer import AUDIT_WRITER
from temporal_sagas.history import audit_trail
from tests.history.audit_support import audit_logging, closed_history
from tests.history.test_audit_trail import COMPENSATED
from tests.sagas import new_id, saga_worker, start

#: Long enough that every event after a saga's first is still queued when it closes.
SLOW_WRITER_LINGER = 3.0


async def test_a_stopped_worker_has_logged_every_audit_event_of_its_sagas(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, wid = saga_dev_env.client, new_id("plugin-flush")
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        # A writer that batches slowly: without the plugin's flush, the saga's later
        # events would still be queued when the worker returns.
        monkeypatch.setattr(AUDIT_WRITER, "_linger", SLOW_WRITER_LINGER)
        async with saga_worker(client, saga_task_queue):
            history = await closed_history(await start(client, saga_task_queue, COMPENSATED, wid))
        # Read the stream as it is now, without `flush_audit_log`.
        lines = [json.loads(line) for line in captured.stream.getvalue().splitlines()]
        logged = [line["event_id"] for line in lines if line.get(AUDIT_MARKER) is True]
        monkeypatch.setattr(AUDIT_WRITER, "_linger", 0.0)

    assert logged == [event.event_id for event in audit_trail(history)]
