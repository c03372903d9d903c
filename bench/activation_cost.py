"""The CPU the saga engine's own workflow code costs, measured by replay (quieter).

Usage: python -m bench.activation_cost [--n 200] [--repeats 5]

Records one happy and one compensating history of each variant (hand-written, framework
with the default engine, framework lean) on a dev server, then replays each history
``--n`` times in this process, sandboxed and configured as workers run (`SagaPlugin`),
and times every workflow activation in thread CPU time. The figure per history is the
median over ``--repeats`` repetitions.

This measures only the workflow code (the engine, the sandbox, the SDK's handling of
each activation inside it), about a sixth of a worker's CPU per saga. Nothing else runs
meanwhile, so it is quieter than the throughput benchmark (`bench.saga_overhead`) on a
shared 2-core machine; two runs still differ by up to about 15% in their ratios. A replay
logs nothing, so the live audit log's rendering is not in these figures; the hash chain
is. Results go to bench/results/activation_cost-<time>.json.

Each history is also replayed once more with every function call in its activations
counted (Python functions and built-ins, through `sys.setprofile`). Unlike the CPU time,
that count repeats from run to run (to within a call or two), so it shows a change to the
engine's code path on a machine too noisy to time it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, _workflow_instance

from bench import overhead_split, saga_overhead
from bench.provenance import write_result
from bench.workloads import FrameworkSaga, HandWrittenSaga, Order
from temporal_sagas import SagaPlugin

#: (label, workflow, lean)
VARIANTS: list[tuple[str, Any, bool]] = [
    ("hand-written", HandWrittenSaga, False),
    ("framework (default)", FrameworkSaga, False),
    ("framework (lean)", FrameworkSaga, True),
]


async def _record() -> dict[tuple[str, str], WorkflowHistory]:
    histories: dict[tuple[str, str], WorkflowHistory] = {}
    async with saga_overhead.bench_worker(3) as (client, queue):
        for label, wf, lean in VARIANTS:
            saga_overhead.START["plain"] = saga_overhead.START["lean"] = lean
            for path, fail_at in (("happy", None), ("compensating", 2)):
                order = Order(key=f"cost-{uuid.uuid4().hex[:10]}", fail_at=fail_at, lean=lean)
                waiters = asyncio.Semaphore(1)
                handle = await saga_overhead._one(client, wf, order, queue, waiters)
                histories[(label, path)] = await handle.fetch_history()
    return histories


async def _repeat(history: WorkflowHistory, n: int) -> AsyncIterator[WorkflowHistory]:
    for _ in range(n):
        yield history


async def _cost(replayer: Replayer, history: WorkflowHistory, n: int, repeats: int) -> float:
    """Median activation CPU per history, in ms."""
    await replayer.replay_workflows(_repeat(history, 20))  # warm-up
    samples = []
    for _ in range(repeats):
        overhead_split._spent.clear()
        await replayer.replay_workflows(_repeat(history, n))
        samples.append(1000 * overhead_split._spent["workflow"] / n)
    return statistics.median(samples)


@contextlib.contextmanager
def _calls_counted() -> Iterator[list[int]]:
    """Count the calls made inside `_WorkflowInstanceImpl.activate` (in ``[0]``) meanwhile."""
    count = [0]
    owner = _workflow_instance._WorkflowInstanceImpl
    original = owner.activate

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    def counted(instance: Any, activation: Any) -> Any:
        sys.setprofile(profile)
        try:
            return original(instance, activation)
        finally:
            sys.setprofile(None)

    owner.activate = counted
    try:
        yield count
    finally:
        owner.activate = original


async def _calls(replayer: Replayer, history: WorkflowHistory) -> int:
    """Function calls per replay of ``history``, in its activations."""
    await replayer.replay_workflows(_repeat(history, 5))  # warm-up: first-use caches
    with _calls_counted() as count:
        await replayer.replay_workflows(_repeat(history, 10))
    return count[0] // 10


async def main(n: int, repeats: int) -> int:
    saga_overhead._configure_logs("off")
    histories = await _record()
    plugins = [SagaPlugin(passthrough_modules=["bench"])]
    replayers = {
        key: Replayer(
            workflows=[next(wf for name, wf, _ in VARIANTS if name == key[0])], plugins=plugins
        )
        for key in histories
    }
    # Counted before the timing is installed, so that the timing's own calls are not.
    calls = {key: await _calls(replayers[key], history) for key, history in histories.items()}
    # The SDK's own activation method, timed as `bench.overhead_split` times its stages.
    overhead_split._time_sync(_workflow_instance._WorkflowInstanceImpl, "activate", "workflow")
    rows = []
    for (label, path), history in histories.items():
        cost = await _cost(replayers[(label, path)], history, n, repeats)
        rows.append(
            {
                "variant": label,
                "path": path,
                "events": len(history.events),
                "ms": cost,
                "calls": calls[(label, path)],
            }
        )
        print(
            f"{label:>20} {path:<12} events={len(history.events)} {cost:6.3f} ms "
            f"calls={calls[(label, path)]}",
            flush=True,
        )
    hand = {r["path"]: r for r in rows if r["variant"] == "hand-written"}
    for row in rows:
        row["ratio"] = row["ms"] / hand[row["path"]]["ms"]
        row["calls_ratio"] = row["calls"] / hand[row["path"]]["calls"]
    out = write_result("activation_cost", {"n": n, "repeats": repeats, "rows": rows})
    for path in ("happy", "compensating"):
        line = ", ".join(
            f"{r['variant']} {r['ms']:.2f} ms ({r['ratio']:.2f}x), "
            f"{r['calls']} calls ({r['calls_ratio']:.2f}x)"
            for r in rows
            if r["path"] == path
        )
        print(f"{path}: {line}")
    print(f"results: bench/results/{out.name}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    code = asyncio.run(main(args.n, args.repeats))
    sys.stdout.flush()
    os._exit(code)
