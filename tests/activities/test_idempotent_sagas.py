"""`@idempotent` activities in real sagas on the dev server: faults, retries, duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import start_saga
from tests.activities import idem_activities
from tests.activities.conftest import make_store
from tests.activities.idem_activities import ACTIVITIES, ATTEMPTS, EFFECTS, Order
from tests.activities.idem_workflows import IdemSaga
from tests.sagas import new_id


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def saga_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    store = make_store(request.param, request, tmp_path)
    idem_activities.STORE.target = store
    try:
        yield request.param
    finally:
        idem_activities.STORE.target = None
        await store.close()


def worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[IdemSaga],
        activities=ACTIVITIES,
        max_concurrent_activities=200,
    )


@pytest.mark.parametrize("fault", ["fail_after_effect", "timeout_after_effect"])
async def test_effect_then_lost_reply_is_retried_and_counted_once(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, saga_store: str, fault: str
) -> None:
    client, order_id = saga_dev_env.client, new_id(f"fault-{saga_store}")
    order = Order(id=order_id, fault=fault, timeout_seconds=1.0)  # type: ignore[arg-type]
    async with worker(client, saga_task_queue):
        handle = await start_saga(
            client, IdemSaga.run, order, id=order_id, task_queue=saga_task_queue
        )
        receipts = await handle.result()

    keys = [f"idem/{order_id}/reserve", f"idem/{order_id}/charge"]
    assert [ATTEMPTS[k] for k in keys] == [2, 2]  # Temporal retried each step once
    assert [EFFECTS[k] for k in keys] == [1, 1]  # and the effect happened once
    # The retry returned the first attempt's stored receipt instead of making a new one.
    assert [(r.key, r.attempt) for r in receipts] == [(k, 1) for k in keys]


async def test_200_sagas_started_3_times_with_transient_failures_run_once_each(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    store = make_store("sqlite", None, tmp_path)  # type: ignore[arg-type]
    idem_activities.STORE.target = store
    client, prefix = saga_dev_env.client, new_id("many")
    orders = [Order(id=f"{prefix}-{i:03}", fail=i % 4 == 0, fault="by_key") for i in range(200)]
    try:
        async with worker(client, saga_task_queue):
            handles = await asyncio.gather(
                *(
                    start_saga(client, IdemSaga.run, o, id=o.id, task_queue=saga_task_queue)
                    for o in orders
                    for _ in range(3)
                )
            )
            outcomes = await asyncio.gather(
                *(h.result() for h in handles[::3]), return_exceptions=True
            )
            executions = await _count_executions(client, prefix, 200)
    finally:
        idem_activities.STORE.target = None
        await store.close()

    assert executions == 200
    for i, order in enumerate(orders):  # the three starts of an order share one run
        assert len({h.result_run_id for h in handles[3 * i : 3 * i + 3]}) == 1, order.id
    failed = [o.id for o, r in zip(orders, outcomes, strict=True) if isinstance(r, Exception)]
    assert all(isinstance(r, WorkflowFailureError) for r in outcomes if isinstance(r, Exception))
    assert failed == [o.id for o in orders if o.fail]
    expected = {f"idem/{o.id}/{s}" for o in orders for s in ("reserve", "charge")}
    expected |= {
        f"idem/{o.id}/{s}/compensate" for o in orders if o.fail for s in ("reserve", "charge")
    }
    seen = {k: n for k, n in EFFECTS.items() if k.startswith(f"idem/{prefix}-")}
    assert seen == dict.fromkeys(expected, 1)  # every effect and compensation exactly once
    retried = sum(ATTEMPTS[k] for k in expected) - len(expected)
    assert retried >= len(expected) // 10  # the transient failures did happen


async def _count_executions(client: Client, prefix: str, expected: int) -> int:
    """Visibility is eventually consistent: wait (bounded) until it has caught up."""
    count = 0
    for _ in range(200):
        count = (await client.count_workflows(f"WorkflowId STARTS_WITH '{prefix}-'")).count
        if count >= expected:
            break
        await asyncio.sleep(0.05)
    return count
