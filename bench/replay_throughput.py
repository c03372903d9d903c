"""Replay throughput for 3-step saga histories (a measurement, not a test).

Records 50 trip-booking sagas (3 steps: car, hotel, flight) on the time-skipping
server, then replays N histories (the 50, cycled) through `replay_histories`,
configured as workers are (`SagaPlugin`, sandboxed), three times, and prints
histories/s for each run and the median::

    .venv/bin/python -m bench.replay_throughput [N]
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import time
from typing import Any

import structlog
from temporalio.client import WorkflowHistory
from temporalio.worker import Worker

from bench.provenance import write_result
from examples.trip_booking.activities import ACTIVITIES, TripRequest
from examples.trip_booking.workflows import BookTrip
from temporal_sagas import SagaPlugin
from temporal_sagas.testing import replay_histories, start_time_skipping_env
from temporal_sagas.testing._replay import make_replayer

DISTINCT = 50
#: Passing the example's modules through the sandbox, as `SagaPlugin` documents for speed,
#: spares re-importing them for every history; BENCH_PASSTHROUGH=0 measures without.
PASSTHROUGH = ["examples"] if os.environ.get("BENCH_PASSTHROUGH", "1") == "1" else []
PLUGINS = [SagaPlugin(passthrough_modules=PASSTHROUGH)]


async def record() -> list[WorkflowHistory]:
    env = await start_time_skipping_env()
    try:
        async with Worker(
            env.client, task_queue="bench", workflows=[BookTrip], activities=ACTIVITIES
        ):
            handles = [
                await env.client.start_workflow(
                    BookTrip.run,
                    TripRequest(trip_id=f"bench-{i}", traveller="Ada", destination="Lisbon"),
                    id=f"bench-{i}",
                    task_queue="bench",
                )
                for i in range(DISTINCT)
            ]
            for handle in handles:
                await handle.result()
            return [await handle.fetch_history() for handle in handles]
    finally:
        await env.shutdown()


async def main(n: int) -> None:
    # Recording runs the example's sagas, whose audit events would flood the console.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    histories = await record()
    events = statistics.mean(len(h.events) for h in histories)
    batch = [histories[i % DISTINCT] for i in range(n)]
    replayer = make_replayer([BookTrip], PLUGINS)
    await replay_histories(histories[:5], sagas=[BookTrip], replayer=replayer)  # warm up
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        report = await replay_histories(batch, sagas=[BookTrip], replayer=replayer)
        elapsed = time.perf_counter() - started
        assert report.ok, report
        rates.append(n / elapsed)
    print(f"{n} histories of {events:.0f} events (3-step saga), sandboxed with SagaPlugin")
    rows = [_row(1, rates)]
    print(f"1 process: {_line(rows[-1])}")
    for jobs in (2,):
        parallel = []
        for _ in range(3):
            started = time.perf_counter()
            report = await replay_histories(batch, sagas=[BookTrip], jobs=jobs)
            elapsed = time.perf_counter() - started
            assert report.ok, report
            parallel.append(n / elapsed)
        rows.append(_row(jobs, parallel))
        print(f"{jobs} processes (start-up included): {_line(rows[-1])}")
    out = write_result(
        "replay_throughput",
        {"histories": n, "events_per_history": events, "passthrough": PASSTHROUGH, "rows": rows},
    )
    print(f"results: {out}")


def _row(processes: int, rates: list[float]) -> dict[str, Any]:
    return {
        "processes": processes,
        "histories_per_s": rates,
        "median_histories_per_s": statistics.median(rates),
    }


def _line(row: dict[str, Any]) -> str:
    runs = ", ".join(f"{r:.0f}" for r in row["histories_per_s"])
    return f"runs {runs} histories/s; median {row['median_histories_per_s']:.0f}"


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
    sys.stdout.flush()
    os._exit(0)
