"""The `@idempotent` window, measured: an effect outside the store's transaction.

`tests.chaos.effects` writes one row per saga on a connection of its own and lets
``@idempotent`` record the outcome afterwards. Two workers are SIGKILLed, at random
moments and aimed at the window: when a row exists whose key the store has not
recorded, the worker that wrote it is killed. The promise is at-least-once: every saga
completes and every key's row is there. A kill that landed in the window (the key was
still unrecorded once its writer was dead) must show as a doubled effect: the window
is real, and the inbox is what closes it (docs/guarantees.md). The figures are
printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from tests.activities.postgres import scratch_database
from tests.chaos.effects import SCHEMA, STORE_TABLE, Effect, EffectRequest
from tests.chaos.harness import DevServer, WorkerProcess

pytestmark = pytest.mark.chaos

SEED = int(os.environ.get("CHAOS_SEED", "20261124"))
SAGAS = int(os.environ.get("CHAOS_EFFECT_SAGAS", "200"))
BATCHES = int(os.environ.get("CHAOS_EFFECT_BATCHES", "10"))
QUEUE = "chaos-effects"


async def _start(client: Client, key: str) -> None:
    for _ in range(40):
        try:
            await client.start_workflow(
                Effect.run,
                EffectRequest(key=key),
                id=key,
                task_queue=QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return
        except RPCError:
            await asyncio.sleep(0.25)
    raise AssertionError(f"saga {key} could not be started")


def _unrecorded(dsn: str) -> list[tuple[str, int]]:
    """Effects written whose key the store has not recorded as completed: (key, pid)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT e.idempotency_key, e.pid FROM effects e LEFT JOIN {STORE_TABLE} k"
            " ON k.key = e.idempotency_key WHERE k.state IS DISTINCT FROM 'completed'"
        ).fetchall()
    return [(key, pid) for key, pid in rows]


async def _kill_in_window(dsn: str, workers: list[WorkerProcess]) -> str | None:
    """SIGKILL a worker holding an unrecorded effect; the key, if it stayed unrecorded."""
    for _ in range(100):
        for key, pid in await asyncio.to_thread(_unrecorded, dsn):
            victim = next((w for w in workers if w.pid() == pid), None)
            if victim is None:
                continue
            landed = await victim.sigkill()
            victim.start()
            # Its writer is dead: if the key is still unrecorded, the retry redoes it.
            still = {k for k, _ in await asyncio.to_thread(_unrecorded, dsn)}
            return key if landed and key in still else None
        await asyncio.sleep(0.005)
    return None


async def _results(client: Client, workers: list[WorkerProcess], keys: list[str]) -> list[str]:
    """Every saga's result; a worker that died meanwhile is started again."""
    waiting = asyncio.gather(*(client.get_workflow_handle(k).result() for k in keys))
    for _ in range(600):
        if waiting.done():
            return list(waiting.result())
        for worker in workers:
            if not worker.alive():
                worker.start()
        await asyncio.sleep(0.2)
    waiting.cancel()
    raise AssertionError("the effect sagas did not all complete")


async def test_idempotent_external_effects_happen_at_least_once_under_worker_kills(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    keys = [f"effect-{n:04d}" for n in range(SAGAS)]
    kills = 0
    in_window: list[str] = []
    with scratch_database() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
        server = DevServer(tmp_path / "temporal.db")
        workers: list[WorkerProcess] = []
        try:
            client = await server.start()
            args = [server.address, QUEUE, dsn, "0", str(tmp_path / "audit.jsonl")]
            workers = [
                WorkerProcess(f"effects-{n}", tmp_path, args, workload="effects") for n in range(2)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                await worker.wait_ready()
            size = -(-SAGAS // BATCHES)
            for batch in range(BATCHES):
                await asyncio.gather(*(_start(client, k) for k in keys[batch * size :][:size]))
                if batch % 2:
                    landed = await _kill_in_window(dsn, workers)
                    in_window += [landed] if landed is not None else []
                    continue
                await asyncio.sleep(rng.uniform(0.02, 0.3))
                victim = rng.choice(workers)
                kills += await victim.sigkill()
                victim.start()
            written = await _results(client, workers, keys)
            with psycopg.connect(dsn) as conn:
                rows = conn.execute("SELECT idempotency_key FROM effects").fetchall()
        finally:
            for worker in workers:
                await worker.sigkill()
            await server.stop()

    effects = Counter(key for (key,) in rows)
    doubled = sorted(key for key, n in effects.items() if n > 1)
    figures = {"sagas": SAGAS, "worker SIGKILLs at random": kills, "effects": len(rows)}
    figures |= {"worker SIGKILLs in the window": len(in_window)}
    figures |= {"keys doubled": len(doubled), "extra effects": len(rows) - len(effects)}
    print("idempotent window figures:", json.dumps(figures))

    assert kills > 0
    # At least once: each saga completed with its step's key, and that key's row exists.
    assert sorted(written) == sorted(f"effect/{k}/write" for k in keys)
    assert set(effects) == set(written)
    # Each kill inside the window doubled its effect: the window the inbox closes is real.
    assert [key for key in in_window if effects[key] < 2] == []
