"""Where the worker's Python CPU goes, per saga, for hand-written and framework sagas.

Usage: python -m bench.overhead_split [--n 300] [--rounds 4] [--path compensating] [--lean]
                                      [--passthrough]

The benchmark of `bench.saga_overhead` (one dev server, one worker, the variants
interleaved) with the worker's stages timed in thread CPU time, so that neither the dev
server nor the other threads count:

- ``workflow code``: activations run in the worker's workflow thread pool (the sandbox,
  the workflow's code, the engine);
- ``activation handling``: the event-loop side of each activation (decoding it, creating
  the sandboxed instance on the first one, encoding the completion);
- ``  of which new instance``: creating the sandboxed workflow instance;
- ``activities``: the activity worker's handling of each task, the activity included;
- ``client``: starting each saga and waiting for its result;
- ``audit writer thread``: logging the audit events (structlog's processors, the JSON
  renderer and the file write), off the workflow threads;
- ``garbage collection``: collector runs, wherever they happened (they overlap the rows
  above);
- ``all Python threads``: everything the interpreter's threads used;
- ``SDK core threads``: the rest of the process, the SDK core's native threads (its
  Rust runtime: polling, history, the gRPC connection);
- ``whole process``: both.

It also counts, per saga: how often the worker entered the workflow sandbox (for an
activation, or for a payload's serialization or storage context: the SDK fetches one by
running code inside the sandbox for every payload sequence it encodes or decodes), and
the collector's runs by generation with the cyclic garbage they freed.

The stages are timed by wrapping the SDK's own methods (temporalio 1.35 internals); an
async stage is timed one step at a time, so time spent waiting is not counted. Results go
to bench/results/overhead_split-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

from temporalio.worker import _activity, _workflow
from temporalio.worker.workflow_sandbox import _runner

from bench import saga_overhead
from bench.provenance import write_result
from temporal_sagas.audit._writer import AuditWriter

STAGES = {
    "workflow": "workflow code",
    "loop": "activation handling",
    "instance": "  of which new instance",
    "activity": "activities",
    "client": "client",
    "writer": "audit writer thread",
    "gc": "garbage collection",
    "python": "all Python threads",
    "core": "SDK core threads",
    "process": "whole process",
}
COUNTS = {
    "activate": "sandbox entries: activations",
    "get_serialization_context": "sandbox entries: serialization contexts",
    "get_external_store_context": "sandbox entries: storage contexts",
    "gc0": "collector runs: generation 0",
    "gc1": "collector runs: generation 1",
    "gc2": "collector runs: generation 2",
    "garbage": "cyclic garbage freed (objects)",
}
_spent: collections.Counter[str] = collections.Counter()
_counted: collections.Counter[str] = collections.Counter()
# Workflow threads, the event loop and the collector all add up: ``+=`` is not atomic.
# Reentrant, since a collection (and its callback) can start while the lock is held.
_adding = threading.RLock()


def _add(stage: str, seconds: float) -> None:
    with _adding:
        _spent[stage] += seconds


class _Timed:
    """Await a coroutine, adding the thread CPU of each of its steps to one stage."""

    def __init__(self, coro: Coroutine[Any, Any, Any], stage: str) -> None:
        self._coro, self._stage = coro, stage

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._coro.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            t0 = time.thread_time()
            try:
                yielded = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            finally:
                _add(self._stage, time.thread_time() - t0)
            try:
                value, error = (yield yielded), None
            except BaseException as err:  # handed on to the coroutine, as await would
                value, error = None, err


def _time_async(owner: Any, name: str, stage: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        return await _Timed(original(*args, **kwargs), stage)

    setattr(owner, name, timed)


def _count_calls(owner: Any, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        with _adding:  # activations run on several workflow threads
            _counted[name] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)


def _time_sync(owner: Any, name: str, stage: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _add(stage, time.thread_time() - t0)

    setattr(owner, name, timed)


def _instrument() -> None:
    _time_async(_workflow._WorkflowWorker, "_handle_activation", "loop")
    _time_sync(_workflow._WorkflowWorker, "_create_workflow_instance", "instance")
    _time_sync(_workflow._RunningWorkflow, "activate", "workflow")
    _time_async(_activity._ActivityWorker, "_handle_start_activity_task", "activity")
    _time_sync(AuditWriter, "_handle", "writer")
    for entry in ("activate", "get_serialization_context", "get_external_store_context"):
        _count_calls(_runner._Instance, entry)
    one = saga_overhead._one

    async def timed_one(*args: Any) -> Any:
        return await _Timed(one(*args), "client")

    saga_overhead._one = timed_one  # `_batch` looks `_one` up at call time
    gc.callbacks.append(_collector_watch())


def _collector_watch() -> Callable[[str, dict[str, Any]], None]:
    """A `gc.callbacks` entry: each collection's thread CPU, generation and garbage."""
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.thread_time())
        elif started:
            _add("gc", time.thread_time() - started.pop())
            with _adding:
                _counted[f"gc{info['generation']}"] += 1
                _counted["garbage"] += info["collected"]

    return on_gc


def _python_cpu() -> float:
    """CPU seconds of the interpreter's threads (the SDK core's own threads excluded)."""
    total = 0.0
    for thread in threading.enumerate():
        with contextlib.suppress(OSError):
            total += saga_overhead.proc_stat(Path(f"/proc/self/task/{thread.native_id}/stat"))[2]
    return total


def _per_variant(per_saga: dict[str, collections.Counter[str]], keys: Any) -> dict[str, Any]:
    return {key: {v: per_saga[v][key] for v in ("hand", "framework")} for key in keys}


async def main(n: int, rounds: int, fail: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the batches; (ms of CPU per saga by stage, counts per saga), each by variant."""
    cpu: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    async with saga_overhead.bench_worker() as (client, queue):
        for r in range(rounds):
            for variant in saga_overhead.turn_order(r):
                _spent.clear()
                _counted.clear()
                python0, process0 = _python_cpu(), saga_overhead._cpu()
                await saga_overhead._batch(client, variant, n, 3, fail, queue)
                _spent["python"] = _python_cpu() - python0
                _spent["process"] = saga_overhead._cpu() - process0
                _spent["core"] = _spent["process"] - _spent["python"]
                for stage, seconds in _spent.items():
                    cpu[variant][stage] += 1000 * seconds / n / rounds
                for key, count in _counted.items():
                    counts[variant][key] += count / n / rounds
                print(
                    f"{variant:>9} round {r}: {1000 * _spent['python'] / n:.2f} ms/saga in "
                    f"Python threads, {1000 * _spent['process'] / n:.2f} in the process",
                    flush=True,
                )
    return _per_variant(cpu, STAGES), _per_variant(counts, COUNTS)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--path", choices=["happy", "compensating"], default="compensating")
    parser.add_argument("--lean", action="store_true", help="framework sagas as in --lean")
    parser.add_argument(
        "--passthrough", action="store_true", help="the workflow module passed through"
    )
    args = parser.parse_args()
    saga_overhead.START["plain"] = saga_overhead.START["lean"] = args.lean
    if args.passthrough:
        saga_overhead.PASSTHROUGH.append("bench")
    saga_overhead._configure_logs("json")
    _instrument()
    split, counts = asyncio.run(main(args.n, args.rounds, args.path == "compensating"))
    meta = {
        "n": args.n,
        "rounds": args.rounds,
        "path": args.path,
        "lean": args.lean,
        "workflow_module": saga_overhead.workflow_module(),
    }
    out = write_result("overhead_split", {**meta, "ms_per_saga": split, "per_saga": counts})
    for title, rows, labels in (
        ("stage (thread CPU, ms/saga)", split, STAGES),
        ("count per saga", counts, COUNTS),
    ):
        print(f"{title:<42} {'hand':>7} {'framework':>10} {'extra':>7}")
        for key, label in labels.items():
            hand, framework = rows[key]["hand"], rows[key]["framework"]
            print(f"{label:<42} {hand:7.2f} {framework:10.2f} {framework - hand:+7.2f}")
    print(f"results: {out}")
    sys.stdout.flush()
    os._exit(0)
