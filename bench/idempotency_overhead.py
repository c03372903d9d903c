"""Guard overhead of `@idempotent` per call, for the SQLite and PostgreSQL stores.

Measurement only (not a test). Each row times N sequential calls of a no-op async
function: unguarded, guarded with a new key each call (claim + complete: the
first-attempt path), and guarded with a key already completed (the retry path).

    .venv/bin/python -m bench.idempotency_overhead [--calls 500] [--dsn DSN]

PostgreSQL defaults to 127.0.0.1:5432 (user postgres); a scratch database is
created and dropped. The row is skipped when it is not reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import structlog
from psycopg import sql

from bench.provenance import write_result
from temporal_sagas.activities import IdempotencyStore, SQLiteStore, idempotent
from temporal_sagas.postgres import PostgresStore

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


async def _time(calls: int, call: Callable[[int], Awaitable[object]]) -> float:
    """Median of 3 runs of ``calls`` sequential calls, in microseconds per call."""
    runs = []
    for run in range(3):
        start = time.perf_counter()
        for i in range(calls):
            await call(run * calls + i)
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


async def measure(
    name: str, store: IdempotencyStore, calls: int
) -> tuple[str, float, float, float]:
    async def noop(i: int) -> int:
        return i

    prefix = uuid.uuid4().hex
    fresh = idempotent(store, key=lambda i: f"{prefix}/{i}")(noop)
    replay = idempotent(store, key=lambda i: f"{prefix}/{i % calls}")(noop)
    await store.open()
    await fresh(0)  # warm up connections
    plain = await _time(calls, noop)
    first = await _time(calls, fresh)
    again = await _time(calls, replay)
    await store.close()
    return name, plain, first - plain, again - plain


async def main() -> None:
    # Replays log at debug; rendering them to the console would be measured too.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(await measure("sqlite (WAL file)", SQLiteStore(Path(tmp) / "k.db"), args.calls))
    db = f"sagas_bench_{uuid.uuid4().hex[:8]}"
    try:
        dsn = args.dsn
        if dsn is None:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={db}"
        rows.append(await measure("postgresql (pool)", PostgresStore(dsn), args.calls))
    except psycopg.OperationalError as err:
        print(f"postgresql skipped: {err}")
    finally:
        if args.dsn is None:
            try:
                with psycopg.connect(ADMIN, autocommit=True) as admin:
                    admin.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(db)
                        )
                    )
            except psycopg.OperationalError:
                pass
    print(f"calls per run: {args.calls} (median of 3 runs), microseconds per call")
    print(f"{'store':<20} {'unguarded':>10} {'+first call':>12} {'+retry (hit)':>13}")
    for name, plain, first, again in rows:
        print(f"{name:<20} {plain:>10.1f} {first:>12.1f} {again:>13.1f}")
    out = write_result(
        "idempotency_overhead",
        {
            "calls": args.calls,
            "figures": "microseconds per call, median of 3 runs; guarded rows less unguarded",
            "rows": [
                {
                    "store": name,
                    "unguarded_us": plain,
                    "first_call_us": first,
                    "retry_hit_us": again,
                }
                for name, plain, first, again in rows
            ],
        },
    )
    print(f"results: {out}")


if __name__ == "__main__":
    asyncio.run(main())
