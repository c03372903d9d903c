"""Activities for the idempotency sagas: a guarded effect, and faults around it.

The effect (a counter per idempotency key) sits inside `@idempotent`; the faults sit
outside it, after the guard recorded the outcome, which is exactly the case the
guard exists for: the effect happened, Temporal never heard, and it retries.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas.activities import (
    Claim,
    IdempotencyStore,
    KeyRecord,
    current_idempotency_key,
    idempotent,
)

Fault = Literal["none", "fail_after_effect", "timeout_after_effect", "by_key"]


class Charge(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: str
    fault: Fault = "none"


class Receipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    attempt: int


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    fail: bool = False
    fault: Fault = "none"
    timeout_seconds: float = 10.0


class Delegate:
    """The store the guarded activities use; tests point it at SQLite or PostgreSQL."""

    target: IdempotencyStore | None = None

    def _store(self) -> IdempotencyStore:
        assert self.target is not None, "set STORE.target before running the worker"
        return self.target

    async def open(self) -> None:
        await self._store().open()

    async def close(self) -> None:
        await self._store().close()

    async def claim(self, key: str, owner: str, *, lease: timedelta) -> Claim:
        return await self._store().claim(key, owner, lease=lease)

    async def complete(
        self,
        key: str,
        owner: str,
        result: str,
        *,
        ttl: timedelta,
        workflow_id: str | None = None,
    ) -> bool:
        return await self._store().complete(key, owner, result, ttl=ttl, workflow_id=workflow_id)

    async def release(self, key: str, owner: str) -> None:
        await self._store().release(key, owner)

    async def get(self, key: str) -> KeyRecord | None:
        return await self._store().get(key)

    async def purge_expired(self) -> int:
        return await self._store().purge_expired()

    async def held_sagas(self) -> list[str]:
        return await self._store().held_sagas()

    async def release_saga(self, workflow_id: str) -> int:
        return await self._store().release_saga(workflow_id)


STORE = Delegate()
EFFECTS: Counter[str] = Counter()
ATTEMPTS: Counter[str] = Counter()


def faulty(key: str, fault: Fault) -> Fault:
    """``by_key``: 20 % of keys fail once after their effect, chosen by a hash of the key."""
    if fault != "by_key":
        return fault
    return "fail_after_effect" if zlib.crc32(key.encode()) % 5 == 0 else "none"


@idempotent(STORE)
async def _effect() -> Receipt:
    key = current_idempotency_key()
    EFFECTS[key] += 1
    return Receipt(key=key, attempt=activity.info().attempt)


async def _with_fault(charge: Charge) -> Receipt:
    key = current_idempotency_key()
    ATTEMPTS[key] += 1
    receipt = await _effect()
    if activity.info().attempt == 1:
        fault = faulty(key, charge.fault)
        if fault == "fail_after_effect":
            raise ApplicationError(f"{key}: the reply was lost after the effect")
        if fault == "timeout_after_effect":
            await asyncio.sleep(60)  # past start-to-close: the worker cancels, Temporal retries
    return receipt


@activity.defn
async def effect(charge: Charge) -> Receipt:
    return await _with_fault(charge)


@activity.defn
async def undo(charge: Charge, receipt: Receipt | None) -> Receipt:
    return await _with_fault(charge)


@activity.defn
async def refuse(charge: Charge) -> None:
    raise ApplicationError(f"{charge.order} cannot ship", non_retryable=True)


ACTIVITIES = [effect, undo, refuse]
