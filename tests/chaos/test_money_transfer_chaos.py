"""Acceptance under faults: transfers under worker, server and database faults.

Two worker processes are SIGKILLed at seeded random moments and restarted, some of
them while they run a compensation; a worker is paused with SIGSTOP past its timeouts
and resumed; every PostgreSQL connection of the bank is terminated mid-run, often
mid-transaction; 20% of activity attempts fail transiently (half after their commit);
the dev server (persistent SQLite) is stopped gracefully and, later, SIGKILLed, and
each time started again on the same port and file. Afterwards nothing may be lost or
doubled: every saga ended (or parked by design), the money is all there, each key's
effect is in the ledger once, each audit trail is whole, every history replays, and
the workers' live audit sink, once reconciled, holds exactly each run's trail.

The defaults keep the run within CI's few minutes; ``make chaos`` sets CHAOS_SAGAS and
CHAOS_BATCHES for a longer one. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
from collections import Counter
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from examples.money_transfer.activities import INJECTED_FAULT, Bank, TransferRequest
from examples.money_transfer.workflows import Transfer
from temporal_sagas import SagaStatus
from temporal_sagas._contract import SAGA_STATUS
from temporal_sagas.history import audit_trail, saga_state_from_history
from temporal_sagas.testing import assert_replays
from tests.activities.postgres import scratch_database
from tests.chaos.audit_sink import compare, reconcile_all, runs_in_file
from tests.chaos.faults import Chaos
from tests.chaos.harness import DevServer, WorkerProcess
from tests.history.audit_support import audit_kinds_from_events

pytestmark = pytest.mark.chaos

SEED = int(os.environ.get("CHAOS_SEED", "20261124"))
SAGAS = int(os.environ.get("CHAOS_SAGAS", "200"))
BATCHES = int(os.environ.get("CHAOS_BATCHES", "8"))
FAULT_RATE = float(os.environ.get("CHAOS_FAULT_RATE", "0.2"))
OPENING = 1_000_000
ACCOUNTS = [f"acct-{n}" for n in range(5)]
QUEUE = "chaos-transfers"
#: The kinds of fault every run must have landed at least once.
FAULT_KINDS = {
    "worker SIGKILL",
    "worker SIGKILL during a compensation",
    "worker SIGSTOP/SIGCONT",
    "PostgreSQL terminations",
    "server graceful restart",
    "server SIGKILL",
}


def _requests(rng: random.Random) -> list[TransferRequest]:
    """The transfers; about one in ten goes to the closed account and must compensate."""
    requests = []
    for n in range(SAGAS):
        source, target = rng.sample(ACCOUNTS, 2)
        if rng.random() < 0.1:
            target = "closed"
        amount = rng.randint(1, 5_000)
        requests.append(
            TransferRequest(transfer_id=f"t-{n:03d}", source=source, target=target, amount=amount)
        )
    return requests


async def _start(client: Client, req: TransferRequest) -> None:
    # Starting twice is harmless (USE_EXISTING), so a start lost to a crash is retried.
    # A short workflow task timeout: a task held by a killed worker is retried in 2 s.
    for _ in range(40):
        try:
            await client.start_workflow(
                Transfer.run,
                req,
                id=req.transfer_id,
                task_queue=QUEUE,
                task_timeout=timedelta(seconds=2),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return
        except RPCError:
            await asyncio.sleep(0.25)
    raise AssertionError(f"transfer {req.transfer_id} could not be started")


async def _unfinished(client: Client, ids: set[str]) -> set[str]:
    """Of ``ids``, the sagas still running and not parked for an operator."""

    async def running(wid: str) -> bool:
        try:
            desc = await client.get_workflow_handle(wid).describe()
        except RPCError:  # the server is busy, or (a lost saga) does not know the id
            return True
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return False
        return desc.typed_search_attributes.get(SAGA_STATUS) != SagaStatus.NEEDS_ATTENTION.value

    flags = await asyncio.gather(*(running(wid) for wid in sorted(ids)))
    return {wid for wid, flag in zip(sorted(ids), flags, strict=True) if flag}


async def _chaos(chaos: Chaos, requests: list[TransferRequest]) -> None:
    """Start the sagas in batches, with faults between and during the batches."""
    size = -(-len(requests) // BATCHES)
    for batch in range(BATCHES):
        started = requests[: (batch + 1) * size]
        await asyncio.gather(*(_start(chaos.client, r) for r in started[batch * size :]))
        await asyncio.sleep(chaos.rng.uniform(0.1, 0.5))
        await chaos.kill_postgres_connections()
        # The compensating sagas of this batch and the one before may be compensating now.
        recent = started[max(0, batch - 1) * size :]
        await chaos.kill_during_compensation(
            [r.transfer_id for r in recent if r.target == "closed"]
        )
        if batch % 2 == 1:
            await chaos.kill_random_worker()
        if batch % 4 == 2:
            await chaos.pause_worker()
        if batch == BATCHES // 3:
            await chaos.restart_server(hard=False)
        if batch == 2 * BATCHES // 3:
            await chaos.restart_server(hard=True)
        chaos.revive_workers()


async def _wait_all_ended(client: Client, workers: list[WorkerProcess], ids: set[str]) -> None:
    pending = set(ids)
    for _ in range(300):
        pending = await _unfinished(client, pending)
        if not pending:
            return
        for worker in workers:
            if not worker.alive():
                worker.start()
        await asyncio.sleep(0.3)
    raise AssertionError(f"{len(pending)} sagas never ended, e.g. {sorted(pending)[:5]}")


async def _histories(client: Client, ids: list[str]) -> list[WorkflowHistory]:
    semaphore = asyncio.Semaphore(20)

    async def fetch(wid: str) -> WorkflowHistory:
        async with semaphore:
            return await client.get_workflow_handle(wid).fetch_history()

    return list(await asyncio.gather(*(fetch(wid) for wid in ids)))


def _ledger(dsn: str) -> tuple[list[tuple[str, str, str, int, str]], dict[str, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, transfer_id, account, amount, kind FROM ledger"
        ).fetchall()
        balances: dict[str, int] = dict(conn.execute("SELECT id, balance FROM accounts").fetchall())
    return [(k, t, a, m, kind) for k, t, a, m, kind in rows], balances


def _retried_after_fault(history: WorkflowHistory) -> int:
    """Activities that succeeded or failed for good after an injected fault.

    Temporal records retries only in the final attempt's started event, which
    carries the attempt number and the previous attempt's failure.
    """
    started = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    return sum(
        1
        for a in started
        if a.attempt > 1 and a.last_failure.application_failure_info.type == INJECTED_FAULT
    )


async def test_transfers_survive_killed_workers_servers_and_connections(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    requests = _requests(rng)
    sink_file = tmp_path / "audit.jsonl"
    with scratch_database() as dsn:
        bank = Bank(dsn)
        server = DevServer(tmp_path / "temporal.db")
        workers: list[WorkerProcess] = []
        try:
            for account in ACCOUNTS:
                await bank.open_account(account, OPENING)
            await bank.open_account("closed", 0)
            await bank.close_account("closed")
            await bank.close()  # the test's own pool is no victim of the terminations
            client = await server.start()
            args = [server.address, QUEUE, dsn, str(FAULT_RATE), str(sink_file)]
            workers = [WorkerProcess(f"worker-{n}", tmp_path, args) for n in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                await worker.wait_ready()
            chaos = Chaos(rng=rng, server=server, workers=workers, client=client, dsn=dsn)
            await _chaos(chaos, requests)
            ids = [r.transfer_id for r in requests]
            await _wait_all_ended(chaos.client, workers, set(ids))
            for worker in workers:  # SIGTERM: the workers flush their audit queues
                await worker.stop()
            histories = await _histories(chaos.client, ids)
            ledger, balances = _ledger(dsn)
            await assert_replays(histories, sagas=[Transfer])
        finally:
            for worker in workers:
                await worker.sigkill()
            await server.stop()
            await bank.close()

    states = [saga_state_from_history(h) for h in histories]
    statuses = Counter(s.status for s in states)
    trails = [audit_trail(h) for h in histories]
    sink = compare(sink_file, trails)
    # Kept for a post-mortem (pytest keeps the last runs' tmp_path).
    shutil.copyfile(sink_file, tmp_path / "audit.before-reconcile.jsonl")
    reconciled = reconcile_all(sink_file, trails)
    retried = sum(_retried_after_fault(h) for h in histories)
    figures = {
        "sagas": SAGAS,
        "batches": BATCHES,
        "fault_rate": FAULT_RATE,
        "statuses": {s.value: n for s, n in statuses.items()},
        "faults": dict(chaos.hits),
        "retried_after_injected_fault": retried,
        "audit_sink_before_reconcile": asdict(sink),
        "reconciled": dict(reconciled),
    }
    print("chaos figures:", json.dumps(figures, indent=1))

    # Every saga ended; compensations retry 20 times, so nothing should park.
    assert set(statuses) <= {SagaStatus.COMPLETED, SagaStatus.COMPENSATED}, statuses
    # The chaos really happened: each kind of fault hit a live target at least once,
    # and injected faults were retried.
    assert {kind for kind in FAULT_KINDS if chaos.hits[kind] > 0} == FAULT_KINDS, chaos.hits
    assert retried > 0

    # Money is conserved, and the ledger explains every balance.
    assert sum(balances.values()) == OPENING * len(ACCOUNTS)
    per_account = Counter[str]()
    for _, _, account, amount, _ in ledger:
        per_account[account] += amount
    for account in ACCOUNTS:
        assert balances[account] == OPENING + per_account[account], account

    # Each idempotency key took effect once; each ended transfer nets to zero.
    key_counts = Counter(key for key, *_ in ledger)
    assert [k for k, n in key_counts.items() if n > 1] == []
    net = Counter[str]()
    kinds: dict[str, list[str]] = {}
    for _, transfer, _, amount, kind in ledger:
        net[transfer] += amount
        kinds.setdefault(transfer, []).append(kind)
    for state in states:
        if state.status is SagaStatus.COMPLETED:
            assert sorted(kinds[state.key]) == ["deposit", "withdraw"], state.key
        assert net[state.key] == 0, state.key

    # Each audit trail is whole: one event per activity scheduled and closed in the raw
    # history (plus start and close), unique ids, unbroken chain.
    for history, state, trail in zip(histories, states, trails, strict=True):
        assert Counter(e.kind.value for e in trail) == audit_kinds_from_events(history), state.key
        assert len({e.event_id for e in trail}) == len(trail), state.key
        assert trail[0].prev_hash is None
        for before, after in itertools.pairwise(trail):
            assert after.prev_hash == before.hash, state.key
        assert all(e.computed_hash() == e.hash for e in trail), state.key

    # Every line the workers wrote carries the hash of its own content (no card numbers
    # in this workload, so redaction has nothing to mask).
    assert sink.broken_hashes == 0
    # The live sink, reconciled, holds exactly each run's trail, in order, and nothing else.
    assert sink.lines > 0
    in_file = runs_in_file(sink_file)
    assert set(in_file) == {trail[0].run_id for trail in trails}
    for trail in trails:
        expected = [json.loads(e.canonical_json()) for e in trail]
        assert in_file[trail[0].run_id] == expected, trail[0].saga_key
