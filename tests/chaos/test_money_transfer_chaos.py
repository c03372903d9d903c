"""Acceptance under faults: 200 transfers, crashing workers, a restarted server.

Two worker processes are SIGKILLed at seeded random moments and restarted, 20% of
activity attempts fail transiently (half after their commit), and the dev server
(persistent SQLite) is stopped and started again on the same port and file halfway
through. Afterwards nothing may be lost or doubled: every saga ended (or parked by
design), the money is all there, each key's effect is in the ledger once, each
audit trail is whole, and every history replays.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
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
from tests.chaos.harness import DevServer, WorkerProcess
from tests.history.audit_support import audit_kinds_from_events

pytestmark = pytest.mark.chaos

SEED = 20261124
SAGAS = 200
BATCHES = 8
FAULT_RATE = 0.2
OPENING = 1_000_000
ACCOUNTS = [f"acct-{n}" for n in range(5)]
QUEUE = "chaos-transfers"


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
        except RPCError:
            return True
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return False
        return desc.typed_search_attributes.get(SAGA_STATUS) != SagaStatus.NEEDS_ATTENTION.value

    flags = await asyncio.gather(*(running(wid) for wid in sorted(ids)))
    return {wid for wid, flag in zip(sorted(ids), flags, strict=True) if flag}


async def _chaos(
    rng: random.Random,
    server: DevServer,
    workers: list[WorkerProcess],
    client: Client,
    requests: list[TransferRequest],
) -> tuple[Client, int]:
    """Start the sagas in batches; between batches, kill a worker; restart the server once."""
    kills = 0
    size = len(requests) // BATCHES
    for batch in range(BATCHES):
        await asyncio.gather(
            *(_start(client, r) for r in requests[batch * size : (batch + 1) * size])
        )
        await asyncio.sleep(rng.uniform(0.1, 0.8))
        victim = rng.choice(workers)
        await victim.sigkill()
        kills += 1
        victim.start()
        if batch == BATCHES // 2:
            await server.stop()
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            client = await server.start()
        for worker in workers:
            if not worker.alive():  # a worker that gave up while the server was down
                worker.start()
    return client, kills


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


async def test_transfers_survive_killed_workers_and_a_restarted_server(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    requests = _requests(rng)
    with scratch_database() as dsn:
        bank = Bank(dsn)
        server = DevServer(tmp_path / "temporal.db")
        workers: list[WorkerProcess] = []
        try:
            for account in ACCOUNTS:
                await bank.open_account(account, OPENING)
            await bank.open_account("closed", 0)
            await bank.close_account("closed")
            client = await server.start()
            args = [server.address, QUEUE, dsn, str(FAULT_RATE)]
            workers = [WorkerProcess(f"worker-{n}", tmp_path, args) for n in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                await worker.wait_ready()
            client, kills = await _chaos(rng, server, workers, client, requests)
            ids = [r.transfer_id for r in requests]
            await _wait_all_ended(client, workers, set(ids))
            histories = await _histories(client, ids)
            ledger, balances = _ledger(dsn)
            await assert_replays(histories, sagas=[Transfer])
        finally:
            for worker in workers:
                await worker.sigkill()
            await server.stop()
            await bank.close()

    states = [saga_state_from_history(h) for h in histories]
    statuses = Counter(s.status for s in states)
    # Compensations retry 20 times with short intervals, so nothing here should park.
    assert set(statuses) == {SagaStatus.COMPLETED, SagaStatus.COMPENSATED}, statuses
    # The chaos really happened: workers died and faults were injected and retried.
    assert kills == BATCHES
    assert sum(_retried_after_fault(h) for h in histories) > 0

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
        if state.status is not SagaStatus.NEEDS_ATTENTION:
            assert net[state.key] == 0, state.key

    # Each audit trail is whole: one event per activity scheduled and closed in the raw
    # history (plus start and close), unique ids, unbroken chain.
    for history, state in zip(histories, states, strict=True):
        trail = audit_trail(history)
        kinds = Counter(e.kind.value for e in trail)
        assert kinds == audit_kinds_from_events(history), state.key
        assert len({e.event_id for e in trail}) == len(trail), state.key
        assert trail[0].prev_hash is None
        for before, after in itertools.pairwise(trail):
            assert after.prev_hash == before.hash, state.key
        assert all(e.computed_hash() == e.hash for e in trail), state.key
