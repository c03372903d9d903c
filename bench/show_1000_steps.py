"""`sagas show` on real 1,000-step sagas: the whole command, and what it spends its time on.

Usage: python -m bench.show_1000_steps [--steps 1000] [--repeat 3]

Runs the benchmark's framework saga with 1,000 steps on an in-memory dev server, once
completing and once failing at its last step (so 1,000 compensations run too), then, for
each history:

- the whole ``sagas show <id>`` command as an operator runs it (a new process: Python
  start-up, connecting, fetching the history, rebuilding, rendering);
- its parts in this process: fetching the history, `rebuild`, `render_saga`.

Each figure is the median of ``--repeat`` runs. Results go to
bench/results/show_1000_steps-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from bench.provenance import write_result
from bench.servers import start_dev_server
from bench.workloads import FrameworkSaga, Order, do_step, undo_step
from temporal_sagas import start_saga
from temporal_sagas.history import rebuild, render_saga


def _median_s(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def _run_saga(client: Client, queue: str, steps: int, fail: bool) -> str:
    key = f"show-{'compensating' if fail else 'happy'}-{uuid.uuid4().hex[:8]}"
    order = Order(key=key, steps=steps, fail_at=steps - 1 if fail else None)
    handle = await start_saga(
        client, FrameworkSaga.run, order, id=key, task_queue=queue, saga_name="bench"
    )
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return key


def _sagas_show(address: str, workflow_id: str) -> str:
    sagas = shutil.which("sagas", path=str(Path(sys.executable).parent)) or "sagas"
    done = subprocess.run(
        [sagas, "show", workflow_id, "--address", address],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


async def _measure(client: Client, address: str, workflow_id: str, repeat: int) -> dict[str, Any]:
    handle = client.get_workflow_handle(workflow_id)
    fetches = []
    for _ in range(repeat):
        began = time.perf_counter()
        history = await handle.fetch_history()
        fetches.append(time.perf_counter() - began)
    state = rebuild(history).state
    text = render_saga(state)
    printed = _sagas_show(address, workflow_id)
    # The parts measured below are the ones the command ran.
    assert printed == text, "sagas show printed something other than render_saga's text"
    command_s = _median_s(repeat, lambda: _sagas_show(address, workflow_id))
    return {
        "workflow_id": workflow_id,
        "status": state.status.value,
        "steps": len(state.steps),
        "history_events": len(history.events),
        "output_lines": len(text.splitlines()),
        "sagas_show_command_s": command_s,
        "fetch_history_s": statistics.median(fetches),
        "rebuild_s": _median_s(repeat, lambda: rebuild(history)),
        "render_s": _median_s(repeat, lambda: render_saga(state)),
    }


async def main(steps: int, repeat: int) -> int:
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    env = await start_dev_server()
    address = env.client.service_client.config.target_host
    queue = f"show-{uuid.uuid4().hex[:6]}"
    rows = []
    try:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[FrameworkSaga],
            activities=[do_step, undo_step],
        ):
            ids = []
            for fail in (False, True):
                print(f"running a {steps}-step saga (fail={fail}) ...", flush=True)
                ids.append(await _run_saga(env.client, queue, steps, fail))
        for workflow_id in ids:
            row = await _measure(env.client, address, workflow_id, repeat)
            rows.append(row)
            print(
                f"{row['status']:<12} {row['steps']} steps, {row['history_events']} events, "
                f"{row['output_lines']} lines: sagas show {row['sagas_show_command_s']:.2f}s "
                f"(fetch {row['fetch_history_s']:.3f}s, rebuild {row['rebuild_s']:.3f}s, "
                f"render {row['render_s']:.3f}s)",
                flush=True,
            )
    finally:
        await env.shutdown()
    meta = {"steps": steps, "repeat": repeat, "figures": "median seconds of the repeats"}
    out = write_result("show_1000_steps", {**meta, "rows": rows})
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    code = asyncio.run(main(args.steps, args.repeat))
    sys.stdout.flush()
    os._exit(code)
