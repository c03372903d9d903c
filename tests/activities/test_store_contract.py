"""The idempotency contract, run against every store (SQLite and PostgreSQL).

These tests call guarded functions directly with an explicit key function, so no
Temporal server is involved: the guard and the store are under test, not Temporal.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Literal

import psycopg
import pytest
from psycopg import sql
from pydantic import BaseModel, ConfigDict
from temporalio.exceptions import ApplicationError

from temporal_sagas._context import incoming_step
from temporal_sagas._models import StepContext
from temporal_sagas.activities import (
    ACTION_RECORD_MISSING,
    Claim,
    IdempotencyKeyBusyError,
    IdempotencyStore,
    KeyRecord,
    SQLiteStore,
    action_record,
    idempotent,
)
from temporal_sagas.postgres import PostgresStore
from tests.activities.conftest import FakeClock, make_store


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    amount: int = 10


class Receipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: str
    effect_number: int


class Recorder:
    """Counts effects per key and lets a test hold an effect half-way."""

    def __init__(self) -> None:
        self.effects: Counter[str] = Counter()
        self.fail_next = False
        self.gate: asyncio.Event | None = None

    async def charge(self, order: Order) -> Receipt:
        self.effects[order.id] += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the payment provider said no")
        return Receipt(order=order.id, effect_number=self.effects[order.id])


class ObservedStore:
    """Delegates to a store and remembers every claim's answer."""

    def __init__(self, inner: IdempotencyStore) -> None:
        self.inner = inner
        self.claims: list[Claim] = []

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def claim(self, key: str, owner: str, *, lease: timedelta) -> Claim:
        claim = await self.inner.claim(key, owner, lease=lease)
        self.claims.append(claim)
        return claim

    async def complete(
        self,
        key: str,
        owner: str,
        result: str,
        *,
        ttl: timedelta,
        workflow_id: str | None = None,
    ) -> bool:
        return await self.inner.complete(key, owner, result, ttl=ttl, workflow_id=workflow_id)

    async def release(self, key: str, owner: str) -> None:
        await self.inner.release(key, owner)

    async def get(self, key: str) -> KeyRecord | None:
        return await self.inner.get(key)

    async def purge_expired(self) -> int:
        return await self.inner.purge_expired()

    async def held_sagas(self) -> list[str]:
        return await self.inner.held_sagas()

    async def release_saga(self, workflow_id: str) -> int:
        return await self.inner.release_saga(workflow_id)


def guarded(store: IdempotencyStore, recorder: Recorder, **options: object):  # type: ignore[no-untyped-def]
    @idempotent(store, key=lambda order: f"charge/{order.id}", **options)  # type: ignore[arg-type]
    async def charge(order: Order) -> Receipt:
        return await recorder.charge(order)

    return charge


async def test_retry_after_success_returns_the_stored_result_without_redoing_the_effect(
    store: IdempotencyStore,
) -> None:
    recorder = Recorder()
    charge = guarded(store, recorder)

    first = await charge(Order(id="o1"))
    second = await charge(Order(id="o1"))

    assert recorder.effects["o1"] == 1
    assert isinstance(second, Receipt)
    assert second == first


async def test_concurrent_attempts_on_one_key_produce_one_effect(store: IdempotencyStore) -> None:
    observed = ObservedStore(store)
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    charge = guarded(observed, recorder)  # type: ignore[arg-type]
    racers = [asyncio.create_task(charge(Order(id="o1"))) for _ in range(5)]

    # Hold the winner inside its effect until every loser has seen the key busy.
    for _ in range(400):
        if sum(c.status == "busy" for c in observed.claims) >= 4:
            break
        await asyncio.sleep(0.01)
    recorder.gate.set()
    receipts = await asyncio.gather(*racers)

    assert recorder.effects["o1"] == 1
    assert len(set(receipts)) == 1
    assert [c.status for c in observed.claims].count("claimed") == 1
    assert sum(c.status == "busy" for c in observed.claims) >= 4


async def test_concurrent_claims_let_exactly_one_owner_in(store: IdempotencyStore) -> None:
    claims = await asyncio.gather(
        *(store.claim("k", f"owner-{i}", lease=timedelta(minutes=1)) for i in range(20))
    )

    assert [c.status for c in claims].count("claimed") == 1
    assert {c.status for c in claims} == {"claimed", "busy"}


async def test_a_failed_attempt_is_not_cached_and_its_retry_runs_the_effect(
    store: IdempotencyStore,
) -> None:
    recorder = Recorder()
    charge = guarded(store, recorder)
    recorder.fail_next = True

    with pytest.raises(RuntimeError, match="said no"):
        await charge(Order(id="o1"))
    assert await store.get("charge/o1") is None  # the claim was released
    retried = await charge(Order(id="o1"))
    again = await charge(Order(id="o1"))

    assert recorder.effects["o1"] == 2
    assert retried.effect_number == 2
    assert again == retried


async def test_a_record_past_its_ttl_no_longer_answers_and_is_purged(
    store: IdempotencyStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    charge = guarded(store, recorder, ttl=timedelta(hours=1))
    await charge(Order(id="o1"))
    await charge(Order(id="o2"))

    clock.advance(3599)
    await charge(Order(id="o1"))
    assert recorder.effects["o1"] == 1
    clock.advance(2)
    assert await store.purge_expired() == 2
    await charge(Order(id="o1"))

    assert recorder.effects["o1"] == 2


async def test_a_crashed_attempts_claim_blocks_until_its_lease_runs_out_then_is_taken_over(
    store: IdempotencyStore, clock: FakeClock
) -> None:
    recorder = Recorder()
    charge = guarded(store, recorder, wait=timedelta(0))
    # An attempt claimed the key, then its worker died: nothing releases the claim.
    await store.claim("charge/o1", "crashed-attempt", lease=timedelta(seconds=30))

    with pytest.raises(IdempotencyKeyBusyError, match="charge/o1"):
        await charge(Order(id="o1"))
    assert recorder.effects["o1"] == 0
    clock.advance(31)
    receipt = await charge(Order(id="o1"))

    assert recorder.effects["o1"] == 1
    assert receipt.effect_number == 1


async def test_an_owner_whose_lease_was_taken_over_cannot_complete(
    store: IdempotencyStore, clock: FakeClock
) -> None:
    await store.claim("k", "slow", lease=timedelta(seconds=5))
    clock.advance(6)
    assert (await store.claim("k", "retry", lease=timedelta(seconds=5))).status == "claimed"

    assert await store.complete("k", "slow", '"late"', ttl=timedelta(hours=1)) is False
    assert await store.complete("k", "retry", '"on time"', ttl=timedelta(hours=1)) is True
    record = await store.get("k")
    assert record is not None
    assert (record.state, record.result) == ("completed", '"on time"')


@contextmanager
def saga_step(kind: Literal["action", "compensation"], *, action_completed: bool = False):  # type: ignore[no-untyped-def]
    """Run the body as if inside an activity the saga ``transfer``/``t-1`` scheduled."""
    token = incoming_step.set(
        StepContext.model_validate(
            {
                "saga": "transfer",
                "saga_key": "t-1",
                "step": "withdraw",
                "kind": kind,
                "action_completed": action_completed,
            }
        )
    )
    try:
        yield
    finally:
        incoming_step.reset(token)


async def test_a_sagas_record_is_held_while_open_and_its_ttl_counts_from_release(
    store: IdempotencyStore, clock: FakeClock
) -> None:
    await store.claim("k", "owner", lease=timedelta(seconds=5))
    await store.complete("k", "owner", '"done"', ttl=timedelta(hours=1), workflow_id="t-1")

    clock.advance(timedelta(days=30).total_seconds())  # parked for a month
    assert await store.purge_expired() == 0
    assert (await store.claim("k", "retry", lease=timedelta(seconds=5))).status == "completed"
    assert await store.held_sagas() == ["t-1"]
    assert await store.release_saga("t-1") == 1
    assert await store.held_sagas() == []
    clock.advance(3599)
    assert (await store.claim("k", "retry", lease=timedelta(seconds=5))).status == "completed"
    clock.advance(2)

    assert await store.purge_expired() == 1
    assert await store.get("k") is None


async def test_a_guarded_call_in_a_saga_step_holds_its_record_for_that_saga(
    store: IdempotencyStore,
) -> None:
    charge = guarded(store, Recorder())

    with saga_step("action"):
        await charge(Order(id="o1"))

    record = await store.get("charge/o1")
    assert record is not None
    assert (record.workflow_id, record.expires_at) == ("t-1", None)


async def test_a_compensation_whose_action_completed_but_left_no_record_fails_naming_the_key(
    store: IdempotencyStore,
) -> None:
    with saga_step("compensation", action_completed=True), pytest.raises(ApplicationError) as err:
        await action_record(store)

    assert err.value.type == ACTION_RECORD_MISSING
    assert err.value.non_retryable
    assert "transfer/t-1/withdraw" in str(err.value)


async def test_a_compensation_finding_its_actions_record_expired_fails_naming_the_key(
    store: IdempotencyStore, clock: FakeClock
) -> None:
    await store.claim("transfer/t-1/withdraw", "o", lease=timedelta(seconds=5))
    await store.complete("transfer/t-1/withdraw", "o", '"done"', ttl=timedelta(hours=1))
    clock.advance(3601)

    with saga_step("compensation"), pytest.raises(ApplicationError) as err:
        await action_record(store, clock=clock)

    assert err.value.type == ACTION_RECORD_MISSING
    assert "transfer/t-1/withdraw" in str(err.value)


async def test_a_compensation_whose_action_never_completed_finds_nothing_to_undo(
    store: IdempotencyStore,
) -> None:
    with saga_step("compensation", action_completed=False):
        assert await action_record(store) is None


_OLD_LAYOUT = (
    "CREATE TABLE {} (key text PRIMARY KEY, state text NOT NULL, owner text, result text,"
    " lease_until double precision, expires_at double precision,"
    " updated_at double precision NOT NULL)"
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_table_from_before_held_records_is_migrated_on_open_and_keeps_its_rows(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> None:
    store = make_store(kind, request, tmp_path, clock)
    old_row = ("old", "completed", "o", '"kept"', None, clock.now + 3600, clock.now)
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute(_OLD_LAYOUT.format(store.table))
            conn.execute(f"INSERT INTO {store.table} VALUES (?, ?, ?, ?, ?, ?, ?)", old_row)
    else:
        assert isinstance(store, PostgresStore)
        with psycopg.connect(request.getfixturevalue("postgres_dsn")) as conn:
            conn.execute(sql.SQL(_OLD_LAYOUT).format(store.table))
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s)").format(store.table),
                old_row,
            )
    try:
        await store.claim("new", "n", lease=timedelta(seconds=5))
        await store.complete("new", "n", '"held"', ttl=timedelta(hours=1), workflow_id="t-1")

        old, new = await store.get("old"), await store.get("new")
    finally:
        await store.close()
    assert old is not None
    assert (old.result, old.workflow_id) == ('"kept"', None)
    assert new is not None
    assert (new.workflow_id, new.expires_at) == ("t-1", None)
