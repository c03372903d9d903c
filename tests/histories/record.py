"""Record the golden histories replayed by tests/testing/test_golden_histories.py.

Run once, from the repository root, and commit the JSON files it writes::

    .venv/bin/python -m tests.histories.record

It starts an in-memory dev server, runs the trip-booking example and the scripted
test saga into every terminal state (COMPLETED, COMPENSATED, CANCELLED, FAILED) and
snapshots the scripted saga mid-flight (RUNNING, COMPENSATING, NEEDS_ATTENTION).
Re-record only when a deliberate, versioned change makes old histories obsolete:
the point of these files is that today's code must keep replaying yesterday's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import Worker

from examples.trip_booking.activities import ACTIVITIES as TRIP_ACTIVITIES
from examples.trip_booking.activities import TripRequest
from examples.trip_booking.workflows import BookTrip
from temporal_sagas import SagaStatus
from temporal_sagas.testing import start_dev_server_env, write_history
from tests.sagas import (
    JOURNAL,
    Script,
    StepScript,
    release,
    saga_worker,
    start,
    wait_for_status,
    wait_until,
)

HERE = Path(__file__).parent
TASK_QUEUE = "golden"


def _script(*steps: StepScript, park: bool = True) -> Script:
    return Script(saga="scripted", steps=steps, park_on_failure=park)


OK = (StepScript(name="a"), StepScript(name="b"), StepScript(name="c"))


async def _closed(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


async def _trip(client: Client, out: Path) -> None:
    async with Worker(
        client, task_queue=TASK_QUEUE + "-trip", workflows=[BookTrip], activities=TRIP_ACTIVITIES
    ):
        for state, fail_at in (("completed", None), ("compensated", "flight")):
            trip = TripRequest(
                trip_id=f"golden-trip-{state}",
                traveller="Ada",
                destination="Lisbon",
                fail_at=fail_at,
            )
            handle = await client.start_workflow(
                BookTrip.run, trip, id=trip.trip_id, task_queue=TASK_QUEUE + "-trip"
            )
            await _closed(handle)
            write_history(await handle.fetch_history(), out)


async def _scripted_closed(client: Client, out: Path) -> None:
    scripts = {
        "completed": _script(*OK),
        "compensated": _script(OK[0], OK[1], StepScript(name="c", action="fail")),
        "failed": _script(
            OK[0],
            StepScript(name="b", compensation="fail"),
            StepScript(name="c", action="fail"),
            park=False,
        ),
    }
    for state, script in scripts.items():
        handle = await start(client, TASK_QUEUE, script, f"golden-scripted-{state}")
        await _closed(handle)
        write_history(await handle.fetch_history(), out)
    wid = "golden-scripted-cancelled"
    handle = await start(
        client, TASK_QUEUE, _script(OK[0], StepScript(name="b", action="block"), OK[2]), wid
    )
    await wait_until(lambda: any(e.workflow_id == wid and e.step == "b" for e in JOURNAL))
    await handle.cancel()
    await _closed(handle)
    write_history(await handle.fetch_history(), out)


async def _snapshot(
    client: Client,
    out: Path,
    wid: str,
    script: Script,
    status: SagaStatus,
    finish: Callable[[WorkflowHandle[Any, Any]], Awaitable[None]],
) -> None:
    handle = await start(client, TASK_QUEUE, script, wid)
    await wait_for_status(handle, status)
    if status is SagaStatus.RUNNING:
        await wait_until(lambda: any(e.workflow_id == wid and e.step == "b" for e in JOURNAL))
    write_history(await handle.fetch_history(), out)
    await finish(handle)


async def _release(handle: WorkflowHandle[Any, Any]) -> None:
    release(handle.id)
    await _closed(handle)


async def _terminate(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.terminate("golden history recorded")


async def _scripted_mid_flight(client: Client, out: Path) -> None:
    await _snapshot(
        client,
        out,
        "golden-scripted-running",
        _script(OK[0], StepScript(name="b", action="block"), OK[2]),
        SagaStatus.RUNNING,
        _release,
    )
    await _snapshot(
        client,
        out,
        "golden-scripted-compensating",
        _script(
            OK[0], StepScript(name="b", compensation="block"), StepScript(name="c", action="fail")
        ),
        SagaStatus.COMPENSATING,
        _release,
    )
    await _snapshot(
        client,
        out,
        "golden-scripted-parked",
        _script(
            OK[0], StepScript(name="b", compensation="fail"), StepScript(name="c", action="fail")
        ),
        SagaStatus.NEEDS_ATTENTION,
        _terminate,
    )


def _scrub(value: Any) -> Any:
    # Stack traces name files on the recording machine; replay never reads them.
    if isinstance(value, dict):
        return {k: "" if k == "stackTrace" else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _scrub_files() -> None:
    for path in HERE.rglob("*.json"):
        document = json.loads(path.read_text())
        path.write_text(json.dumps(_scrub(document), indent=1, sort_keys=True) + "\n")


async def main() -> None:
    """Record every golden history into tests/histories/<saga>/."""
    env = await start_dev_server_env()
    try:
        for sub in ("trip_booking", "scripted"):
            shutil.rmtree(HERE / sub, ignore_errors=True)
        await _trip(env.client, HERE / "trip_booking")
        async with saga_worker(env.client, TASK_QUEUE):
            await _scripted_closed(env.client, HERE / "scripted")
            await _scripted_mid_flight(env.client, HERE / "scripted")
    finally:
        await env.shutdown()
    _scrub_files()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # a process that created a Temporal client may abort at exit otherwise
