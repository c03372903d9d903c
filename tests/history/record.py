"""Record the golden histories and live states checked by tests/history/test_golden_histories.py.

This script is the only way the files in tests/history/histories change. Run it from
the repository root and commit what it writes::

    .venv/bin/python -m tests.history.record

It starts an in-memory dev server and runs the scripted test saga into six cases:
completed, compensated, parked (left in NEEDS_ATTENTION), failed (no parking),
cancelled (a cancel request while a step runs) and retried (parked, retried by an
operator, then compensated). For each case it writes ``<case>.history.json`` (the
server's history, as ``temporal workflow show --output json`` prints it) and
``<case>.state.json``, the answer of the LIVE ``saga_state`` query taken at the
same moment, never a state rebuilt from the history: the rebuild is what the
tests check against it. Re-record only for a deliberate change to what the engine
reports, and review the diff; the render snapshots in tests/history/snapshots then
follow with ``SAGAS_UPDATE_SNAPSHOTS=1``. The literals the tests pin beside these
files (``TRUTH`` in test_golden_histories.py) are written by hand, never by this script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from temporal_sagas import SagaStatus, operator_action, saga_state
from temporal_sagas.testing import start_dev_server_env
from tests.sagas import (
    FIXED,
    JOURNAL,
    Script,
    StepScript,
    saga_worker,
    start,
    wait_for_status,
    wait_until,
)

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "golden-history"

# The steps each case runs; they are the scripts the first recording was made from.
_FORWARD = (
    StepScript(name="reserve"),
    StepScript(name="charge", compensation="none", pivot=True),
    StepScript(name="notify", compensation="none"),
)
_SHIP_FAILS = (
    StepScript(name="reserve"),
    StepScript(name="charge"),
    StepScript(name="ship", action="fail"),
)
_CHARGE_UNDO_FLAKY = (
    StepScript(name="reserve"),
    StepScript(name="charge", compensation="fail_until_fixed"),
    StepScript(name="ship", action="fail"),
)
_CHARGE_UNDO_FAILS = (
    StepScript(name="reserve"),
    StepScript(name="charge", compensation="fail"),
    StepScript(name="ship", action="fail"),
)
_CHARGE_BLOCKS = (StepScript(name="reserve"), StepScript(name="charge", action="block"))

Handle = WorkflowHandle[Any, Any]


async def _closed(handle: Handle) -> None:
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


async def _to_parked(handle: Handle) -> None:
    await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)


async def _cancel_mid_step(handle: Handle) -> None:
    await wait_until(
        lambda: any(e.workflow_id == handle.id and e.step == "charge" for e in JOURNAL)
    )
    await handle.cancel()
    await _closed(handle)


async def _retry_after_parking(handle: Handle) -> None:
    await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
    FIXED.add(handle.id)  # the dependency is back: the flaky compensation now succeeds
    await operator_action(handle, "retry", reason="back", operator="ana")
    await _closed(handle)


CASES: dict[str, tuple[Script, Callable[[Handle], Awaitable[None]]]] = {
    "completed": (Script(steps=_FORWARD), _closed),
    "compensated": (Script(steps=_SHIP_FAILS), _closed),
    "parked": (Script(steps=_CHARGE_UNDO_FLAKY), _to_parked),
    "failed": (Script(steps=_CHARGE_UNDO_FAILS, park_on_failure=False), _closed),
    "cancelled": (Script(steps=_CHARGE_BLOCKS), _cancel_mid_step),
    "retried": (Script(steps=_CHARGE_UNDO_FLAKY), _retry_after_parking),
}


def _scrub(value: Any) -> Any:
    # Stack traces name files on the recording machine; nothing reads them back.
    if isinstance(value, dict):
        return {k: "" if k == "stackTrace" else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


async def _record(client: Client, case: str) -> None:
    script, drive = CASES[case]
    handle = await start(client, TASK_QUEUE, script, f"golden-{case}")
    await drive(handle)
    live = await saga_state(handle)
    history = await handle.fetch_history()
    # The saga is closed or parked, so nothing moves between the query and the fetch;
    # a second query checks it, or the pair would not describe one moment.
    if await saga_state(handle) != live:
        raise RuntimeError(f"{case}: the saga moved while it was being recorded")
    (HISTORIES / f"{case}.history.json").write_text(
        json.dumps(_scrub(history.to_json_dict()), indent=2) + "\n", encoding="utf-8"
    )
    (HISTORIES / f"{case}.state.json").write_text(
        json.dumps(live.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8"
    )
    print(f"{case}: {live.status.value}, {len(history.events)} events")


async def main() -> None:
    """Record every case into tests/history/histories/."""
    # The scripted failures are the point; their audit lines and activity tracebacks
    # would bury the one summary line per case.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    env = await start_dev_server_env()
    try:
        async with saga_worker(env.client, TASK_QUEUE):
            for case in CASES:
                await _record(env.client, case)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # a process that created a Temporal client may abort at exit otherwise
