"""Worker memory per open saga: waiting for a signal, parked for an operator, hand-written.

Usage: python -m bench.open_sagas_memory [--counts 1000,10000] [--kinds ...] [--no-passthrough]

For each count N and each kind (see `bench.open_workloads`) a fresh worker process is
started against one in-memory dev server, with a workflow cache large enough to hold
every open saga (an evicted saga costs no memory, which would make the figure
meaningless; the worker reports its cache size and forced evictions, so this is
checked). The worker's resident memory (VmRSS) is read once warmed up and once N
sagas have all reached their waiting point (no workflow task and no activity pending,
as `describe` reports it); per-saga memory = (after - baseline) / N. The worker's own
process is measured, never this one, so the client's memory is not counted.

Results go to bench/results/open_sagas_memory-<time>.json; the summary printed last
gives KiB per open saga for each kind and count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Any

import structlog
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.worker import Worker

from bench.open_workloads import ACTIVITIES, KINDS, WORKFLOWS
from bench.provenance import write_result
from bench.servers import start_dev_server
from bench.workloads import Order
from temporal_sagas import operator_action
from temporal_sagas.workers import SagaPlugin

WARMUP = 20
CONCURRENCY = 200
PROGRESS_EVERY = 1000
#: Seconds to let the worker go quiet before RSS is read.
SETTLE_S = 2.0
ROOT = Path(__file__).resolve().parent.parent


def _plugin(passthrough: bool) -> SagaPlugin:
    # Passing the workload modules through the sandbox is what SagaPlugin documents for
    # production; without it every cached workflow holds its own copy of them.
    return SagaPlugin(passthrough_modules=["bench"] if passthrough else [])


# -- the worker process ----------------------------------------------------------------------


class _CacheMetrics:
    """The worker's sticky cache size and forced evictions, read from core's metrics."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self.cached = -1
        self.forced_evictions = 0

    def drain(self) -> None:
        for update in self._buffer.retrieve_updates():
            name = update.metric.name
            if name.endswith("sticky_cache_size"):
                self.cached = int(update.value)
            elif name.endswith("sticky_cache_total_forced_eviction"):
                self.forced_evictions += int(update.value)


async def _serve_worker(address: str, queue: str, max_cached: int, passthrough: bool) -> None:
    """Run the worker; answer each line on stdin with a JSON line of cache figures.

    ``gc`` collects garbage before answering; end of input ends the process.
    """
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    # Replies own stdout; anything else printed lands on stderr instead of the channel.
    reply: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    buffer = MetricBuffer(100_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    metrics = _CacheMetrics(buffer)
    client = await Client.connect(address, runtime=runtime, plugins=[_plugin(passthrough)])

    async def drain_forever() -> None:
        # The buffer must be drained regularly or updates are dropped.
        while True:
            metrics.drain()
            await asyncio.sleep(1)

    async with Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
        max_cached_workflows=max_cached,
    ):
        drainer = asyncio.create_task(drain_forever())
        reply.write("ready\n")
        while line := await asyncio.to_thread(sys.stdin.readline):
            if line.strip() == "gc":
                gc.collect()
            metrics.drain()
            reply.write(
                json.dumps({"cached": metrics.cached, "forced_evictions": metrics.forced_evictions})
                + "\n"
            )
        drainer.cancel()
        # End of input: exit at once rather than evict thousands of cached workflows
        # one by one in a graceful shutdown; the dev server is thrown away anyway.
        reply.flush()
        os._exit(0)


class _WorkerProcess:
    """The worker subprocess, seen from the benchmark: its memory, CPU and cache."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    @classmethod
    async def spawn(
        cls, address: str, queue: str, max_cached: int, passthrough: bool
    ) -> _WorkerProcess:
        args = ["-m", "bench.open_sagas_memory", "--worker", address, queue, str(max_cached)]
        if not passthrough:
            args.append("--no-passthrough")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = cls(proc)
        if (await worker._read()) != "ready":
            raise RuntimeError(f"worker {proc.pid} did not start (exit code {proc.returncode})")
        return worker

    async def _read(self) -> str:
        assert self._proc.stdout is not None
        return (await self._proc.stdout.readline()).decode().strip()

    async def ask(self, command: str = "stats") -> dict[str, int]:
        """Send ``command`` (``gc`` or ``stats``) and return the worker's cache figures."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{command}\n".encode())
        await self._proc.stdin.drain()
        answer: dict[str, int] = json.loads(await self._read())
        return answer

    def status(self, field: str) -> int:
        """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def cpu_s(self) -> float:
        """User + system CPU seconds the worker has used so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def settled_rss(self) -> tuple[int, dict[str, int]]:
        """RSS in KiB once garbage is collected and the worker has had time to go quiet."""
        await self.ask("gc")
        await asyncio.sleep(SETTLE_S)
        return self.status("VmRSS"), await self.ask("gc")

    async def stop(self) -> None:
        """Close the worker's input, so it exits; kill it if it does not."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), timeout=30)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


# -- the benchmark ---------------------------------------------------------------------------


async def _bounded(
    n: int, call: Callable[[int], Awaitable[None]], progress: Callable[[int], None]
) -> None:
    """Run ``call(0..n-1)`` with at most `CONCURRENCY` at once, reporting completions."""
    gate = asyncio.Semaphore(CONCURRENCY)
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        async with gate:
            await call(i)
        done += 1
        progress(done)

    await asyncio.gather(*(one(i) for i in range(n)))


async def _start(client: Client, kind: str, ids: Sequence[str], queue: str, label: str) -> None:
    started = time.perf_counter()
    wf = KINDS[kind]

    async def start(i: int) -> None:
        await client.start_workflow(wf.run, Order(key=ids[i]), id=ids[i], task_queue=queue)

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == len(ids):
            print(
                f"  {label}: started {done}/{len(ids)} ({time.perf_counter() - started:.1f}s)",
                flush=True,
            )

    await _bounded(len(ids), start, progress)


async def _waiting(client: Client, workflow_id: str) -> bool:
    """Whether the saga is at its waiting point: open, nothing scheduled, nothing running."""
    desc = await client.get_workflow_handle(workflow_id).describe()
    if desc.status != WorkflowExecutionStatus.RUNNING:
        raise RuntimeError(f"{workflow_id} closed ({desc.status}) instead of waiting")
    raw = desc.raw_description
    return not raw.HasField("pending_workflow_task") and not raw.pending_activities


async def _waiting_flags(client: Client, ids: Sequence[str]) -> list[bool]:
    flags = [False] * len(ids)

    async def check(i: int) -> None:
        flags[i] = await _waiting(client, ids[i])

    await _bounded(len(ids), check, lambda _: None)
    return flags


async def _until_waiting(client: Client, ids: Sequence[str], label: str) -> None:
    """Describe the sagas not yet seen waiting, again and again, until all are."""
    pending = list(ids)
    while pending:
        flags = await _waiting_flags(client, pending)
        pending = [w for w, ok in zip(pending, flags, strict=True) if not ok]
        print(f"  {label}: waiting {len(ids) - len(pending)}/{len(ids)}", flush=True)
        if pending:
            await asyncio.sleep(1)


async def _release(client: Client, kind: str, ids: Sequence[str]) -> None:
    """Let warm-up sagas finish, so they leave the worker's cache."""
    for workflow_id in ids:
        handle = client.get_workflow_handle(workflow_id)
        if kind == "framework_parked":
            await operator_action(handle, "resolve", reason="benchmark warm-up")
        else:
            await handle.signal("release")
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()


async def _measure(
    client: Client, address: str, kind: str, n: int, passthrough: bool, wait_s: float
) -> dict[str, Any]:
    label = f"{kind} n={n}"
    queue = f"open-{uuid.uuid4().hex[:8]}"
    worker = await _WorkerProcess.spawn(address, queue, n + WARMUP + 100, passthrough)
    try:
        # Warm-up: imports, sandbox, caches; the sagas then finish and leave the cache.
        warm = [f"{kind}-warm-{uuid.uuid4().hex[:10]}" for _ in range(WARMUP)]
        await _start(client, kind, warm, queue, f"{label} warm-up")
        async with asyncio.timeout(wait_s):
            await _until_waiting(client, warm, f"{label} warm-up")
        await _release(client, kind, warm)
        baseline, _ = await worker.settled_rss()
        cpu0, t0 = worker.cpu_s(), time.perf_counter()
        ids = [f"{kind}-{uuid.uuid4().hex[:10]}" for _ in range(n)]
        await _start(client, kind, ids, queue, label)
        start_s = time.perf_counter() - t0
        async with asyncio.timeout(wait_s):
            await _until_waiting(client, ids, label)
        open_s = time.perf_counter() - t0
        cpu = worker.cpu_s() - cpu0
        after, cache = await worker.settled_rss()
        peak = worker.status("VmHWM")
    finally:
        await worker.stop()
    history = await client.get_workflow_handle(ids[0]).fetch_history()
    if cache["cached"] < n:
        print(
            f"  WARNING {label}: only {cache['cached']} cached, the figure undercounts", flush=True
        )
    elif cache["forced_evictions"]:
        # A failed workflow task (the deadlock detector, under load) evicts the saga; its
        # retry replays it back into the cache, so the figure still holds every saga.
        print(
            f"  note {label}: {cache['forced_evictions']} evicted and replayed back, "
            f"{cache['cached']} cached at the measurement",
            flush=True,
        )
    return {
        "kind": kind,
        "n": n,
        "rss_baseline_kib": baseline,
        "rss_after_kib": after,
        "rss_peak_kib": peak,
        "delta_mib": (after - baseline) / 1024,
        "kib_per_saga": (after - baseline) / n,
        "worker_cpu_s": cpu,
        "cpu_ms_per_saga": 1000 * cpu / n,
        "start_s": start_s,
        "open_s": open_s,
        "cached_workflows": cache["cached"],
        "forced_evictions": cache["forced_evictions"],
        "history_events": len(history.events),
    }


async def main(counts: list[int], kinds: list[str], passthrough: bool, wait_s: float) -> int:
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    env = await start_dev_server()
    address = env.client.service_client.config.target_host
    rows: list[dict[str, Any]] = []
    try:
        for n in counts:
            for kind in kinds:
                row = await _measure(env.client, address, kind, n, passthrough, wait_s)
                rows.append(row)
                print(_line(row), flush=True)
    finally:
        # The open sagas die with the in-memory dev server.
        await env.shutdown()
    summary = _summarise(rows)
    out = write_result(
        "open_sagas_memory",
        {"passthrough": passthrough, "warmup": WARMUP, "rows": rows, "summary": summary},
    )
    print("summary (KiB of worker RSS per open saga):")
    for row in rows:
        print(f"  {_line(row)}")
    for key, ratio in summary.items():
        print(f"  {key}: {ratio:.2f}x the hand-written baseline")
    print(f"results: {out}")
    return 0


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['kind']:>17} n={row['n']:<6} baseline={row['rss_baseline_kib'] / 1024:6.1f}MiB "
        f"after={row['rss_after_kib'] / 1024:7.1f}MiB delta={row['delta_mib']:7.1f}MiB "
        f"{row['kib_per_saga']:6.1f}KiB/saga cpu={row['worker_cpu_s']:6.1f}s "
        f"({row['cpu_ms_per_saga']:.2f}ms/saga) open in {row['open_s']:.1f}s"
    )


def _summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each framework kind's KiB per saga over the hand-written one's, per count."""
    per = {(r["kind"], r["n"]): r["kib_per_saga"] for r in rows}
    return {
        f"{kind} n={n}": kib / per[("hand_waiting", n)]
        for (kind, n), kib in per.items()
        if kind != "hand_waiting" and per.get(("hand_waiting", n), 0) > 0
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated, of " + ", ".join(KINDS)
    )
    parser.add_argument(
        "--no-passthrough",
        action="store_true",
        help="do not pass the workload modules through the sandbox",
    )
    parser.add_argument(
        "--wait", type=float, default=1800, help="seconds allowed for N sagas to reach waiting"
    )
    parser.add_argument(
        "--worker",
        nargs=3,
        metavar=("ADDRESS", "QUEUE", "MAX_CACHED"),
        help="internal: run as the measured worker process",
    )
    args = parser.parse_args()
    if args.worker:
        address, queue, max_cached = args.worker
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_worker(address, queue, int(max_cached), not args.no_passthrough))
        sys.stdout.flush()
        os._exit(0)
    kinds = args.kinds.split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    code = asyncio.run(
        main([int(c) for c in args.counts.split(",")], kinds, not args.no_passthrough, args.wait)
    )
    sys.stdout.flush()
    os._exit(code)
