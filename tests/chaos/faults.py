"""The chaos suite's faults, each counted only when it hit something alive.

A fault is one of: a worker SIGKILLed at a random moment; a worker SIGKILLed while it
runs a compensation (found with ``describe()``: a started pending activity whose id
ends in ``/compensate``, and the worker identity that took it); a worker paused with
SIGSTOP past its heartbeat and workflow task timeouts, then resumed; every PostgreSQL
connection of the bank's database terminated; the dev server restarted gracefully;
the dev server SIGKILLed and started again on the same SQLite file.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from temporal_sagas._contract import compensation_key
from tests.chaos.harness import DevServer, WorkerProcess, terminate_backends

#: Longer than the activities' heartbeat timeout and the workflow task timeout (2 s).
PAUSE_SECONDS = 4.0
#: How long one aimed kill waits for a compensation to be in flight.
AIM_SECONDS = 4.0


@dataclass
class Chaos:
    """The processes under fire, and the faults that hit so far, by kind."""

    rng: random.Random
    server: DevServer
    workers: list[WorkerProcess]
    client: Client
    dsn: str
    hits: Counter[str] = field(default_factory=Counter)

    async def kill_random_worker(self) -> None:
        """SIGKILL one worker, chosen at random, and start another in its slot."""
        victim = self.rng.choice(self.workers)
        if await victim.sigkill():
            self.hits["worker SIGKILL"] += 1
        victim.start()

    async def kill_during_compensation(self, compensating: list[str]) -> None:
        """SIGKILL the worker running a compensation of one of ``compensating``, if any.

        Polls the sagas' pending activities for up to `AIM_SECONDS`; counted only when
        the victim was alive and was the one the server says runs the compensation.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AIM_SECONDS
        while loop.time() < deadline:
            for wid in compensating:
                victim = await self._compensating_worker(wid)
                if victim is not None:
                    if await victim.sigkill():
                        self.hits["worker SIGKILL during a compensation"] += 1
                    victim.start()
                    return
            await asyncio.sleep(0.02)

    async def _compensating_worker(self, wid: str) -> WorkerProcess | None:
        try:
            desc = await self.client.get_workflow_handle(wid).describe()
        except RPCError:
            return None
        for pending in desc.raw_description.pending_activities:
            if not pending.activity_id.endswith(compensation_key("")):
                continue
            if pending.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
                continue
            for worker in self.workers:
                if worker.runs(pending.last_worker_identity):
                    return worker
        return None

    async def pause_worker(self) -> None:
        """SIGSTOP a worker past its timeouts, then SIGCONT it."""
        if await self.rng.choice(self.workers).pause(PAUSE_SECONDS):
            self.hits["worker SIGSTOP/SIGCONT"] += 1

    async def kill_postgres_connections(self) -> None:
        """Terminate every connection to the bank's database, mid-transaction or idle."""
        killed, busy = await asyncio.to_thread(terminate_backends, self.dsn)
        if killed:
            self.hits["PostgreSQL backends terminated"] += killed
            self.hits["PostgreSQL backends terminated mid-transaction"] += busy
            self.hits["PostgreSQL terminations"] += 1

    async def restart_server(self, *, hard: bool) -> None:
        """Stop (SIGTERM) or kill (SIGKILL) the dev server, then start it on the same file."""
        if hard:
            if await self.server.kill():
                self.hits["server SIGKILL"] += 1
        elif await self.server.stop():
            self.hits["server graceful restart"] += 1
        await asyncio.sleep(self.rng.uniform(0.1, 0.5))
        self.client = await self.server.start()

    def revive_workers(self) -> None:
        """Start a worker in every slot whose process gave up (the server was down)."""
        for worker in self.workers:
            if not worker.alive():
                worker.start()
