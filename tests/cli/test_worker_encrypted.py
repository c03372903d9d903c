"""`sagas worker` applies the payload codec from SAGAS_ENCRYPTION_KEYS, as the CLI does."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.workers import ConnectOptions, EncryptionCodec, connect
from temporal_sagas.workers._codec import ENCODING
from tests.sagas import new_id
from tests.workers.app import Job, SlowSaga
from tests.workers.procs import WorkerProcess, start_worker

pytestmark = pytest.mark.dev_server

MARKER = "plaintext-marker-7c1f"


def _payloads(history_events: list[object]) -> list[Payload]:
    found: list[Payload] = []
    for event in history_events:
        attrs = getattr(event, event.WhichOneof("attributes"))  # type: ignore[attr-defined]
        for name in ("input", "result"):
            if hasattr(attrs, name) and attrs.HasField(name):
                found.extend(getattr(attrs, name).payloads)
    return found


async def test_an_encrypted_saga_runs_on_sagas_worker_and_leaves_only_ciphertext(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    worker_procs: list[WorkerProcess],
) -> None:
    spec = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    address = saga_dev_env.client.service_client.config.target_host
    worker = start_worker(
        address,
        saga_task_queue,
        tmp_path,
        app="tests.workers.app:slow_app",
        env={"SAGAS_ENCRYPTION_KEYS": spec},
    )
    worker_procs.append(worker)
    await worker.ready()
    marks = tmp_path / MARKER
    marks.mkdir()
    client = await connect(ConnectOptions(address=address), codec=EncryptionCodec.from_spec(spec))
    wid = new_id("encrypted-worker")

    handle = await client.start_workflow(
        SlowSaga.run, Job(key=wid, seconds=0, marks=str(marks)), id=wid, task_queue=saga_task_queue
    )
    # Bounded: a worker without the keys cannot read the input and never completes it.
    result = await asyncio.wait_for(handle.result(), 60)
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    assert result == wid
    assert MARKER not in raw.to_json()
    payloads = _payloads(list(raw.events))
    assert len(payloads) >= 4  # saga input, activity input and result, saga result
    assert {p.metadata["encoding"] for p in payloads} == {ENCODING}
