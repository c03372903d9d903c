"""The order-fulfillment example (a YAML-defined saga), end to end on the local dev server.

The services keep their tables in a scratch PostgreSQL database for the module.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from examples.order_fulfillment.activities import (
    ACTIVITIES,
    STEP_VOIDED,
    FaultPoint,
    Order,
    Services,
    close_services,
    inject_faults,
    services,
)
from examples.order_fulfillment.workflows import register
from temporal_sagas import (
    SAGA_COMPENSATED,
    CompensationStatus,
    SagaState,
    SagaStatus,
    operator_action,
    saga_state,
    start_saga,
)
from temporal_sagas.definitions import DefinitionSaga, DefinitionSagaInput


def _order(**changes: Any) -> dict[str, Any]:
    order = {
        "order_id": f"order-{uuid.uuid4().hex[:8]}",
        "sku": "BOOK-42",
        "quantity": 2,
        "amount_cents": 4_200,
        "card": "ok",
        "address": "1 Rua Augusta, Lisbon",
    }
    return {**order, **changes}


@pytest_asyncio.fixture
async def shop(dsn: str) -> AsyncIterator[Services]:
    """The inventory, payment and shipping services the activities use."""
    try:
        yield services()
    finally:
        inject_faults(None)
        # The pool must be gone before the scratch database is dropped.
        await close_services()


@pytest_asyncio.fixture
async def client(
    shop: Services, saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> AsyncIterator[Client]:
    """The dev server's client, with an order-fulfillment worker polling `saga_task_queue`."""
    register()
    async with Worker(
        saga_dev_env.client,
        task_queue=saga_task_queue,
        workflows=[DefinitionSaga],
        activities=ACTIVITIES,
    ):
        yield saga_dev_env.client


async def _stocked_sku(shop: Services, available: int) -> str:
    """A new article with ``available`` units, so a test can count its stock alone."""
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    await shop.restock(sku, available)
    return sku


async def _start(
    client: Client, task_queue: str, order: dict[str, Any]
) -> WorkflowHandle[Any, Any]:
    request = DefinitionSagaInput(name="order-fulfillment", version=1, input=order)
    return await start_saga(
        client, DefinitionSaga.run, request, id=order["order_id"], task_queue=task_queue
    )


async def _wait_for_status(handle: WorkflowHandle[Any, Any], status: SagaStatus) -> SagaState:
    state = await saga_state(handle)
    for _ in range(400):
        if state.status is status:
            return state
        await asyncio.sleep(0.025)
        state = await saga_state(handle)
    raise AssertionError(f"saga {handle.id} never reached {status}; it is {state.status}")


async def _parked_order(
    client: Client, task_queue: str, shop: Services
) -> tuple[dict[str, Any], WorkflowHandle[Any, Any], SagaState]:
    """An order parked for an operator: its pivot failed (no address) and its refund
    keeps failing (the refund API is down for it)."""
    order = _order(address="")
    await shop.set_refunds_down(order["order_id"], True)
    handle = await _start(client, task_queue, order)
    return order, handle, await _wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)


async def test_order_is_reserved_charged_confirmed_and_shipped(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order = _order()
    handle = await _start(client, saga_task_queue, order)

    result = await handle.result()

    assert set(result) == {"reservation", "payment", "shipment"}
    assert result["payment"]["amount_cents"] == 4_200
    assert await shop.history(order["order_id"]) == ["reserved", "charged", "confirmed", "shipped"]
    assert (await saga_state(handle)).status is SagaStatus.COMPLETED


async def test_declined_payment_releases_the_reserved_stock(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order = _order(card="declined")
    handle = await _start(client, saga_task_queue, order)

    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()

    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.type == SAGA_COMPENSATED
    assert await shop.history(order["order_id"]) == ["reserved", "released"]
    state = await saga_state(handle)
    assert state.status is SagaStatus.COMPENSATED
    assert state.compensation_order == ["charge", "reserve"]


async def test_declined_payment_puts_the_stock_back_to_its_starting_level(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    sku = await _stocked_sku(shop, 10)
    order = _order(card="declined", sku=sku, quantity=3)
    handle = await _start(client, saga_task_queue, order)

    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await shop.stock(sku) == 10
    assert await shop.payments(order["order_id"]) == []


async def test_order_beyond_the_stock_changes_nothing(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    sku = await _stocked_sku(shop, 1)
    order = _order(sku=sku, quantity=2)
    handle = await _start(client, saga_task_queue, order)

    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await shop.stock(sku) == 1
    assert await shop.history(order["order_id"]) == []


async def test_refund_that_keeps_failing_parks_the_order_for_an_operator(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order, handle, state = await _parked_order(client, saga_task_queue, shop)
    await handle.terminate("test over")

    assert state.parked_steps == ("charge",)
    assert await shop.history(order["order_id"]) == ["reserved", "charged"]


async def test_parked_order_was_charged_once_and_refunded_zero_times(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order, handle, _ = await _parked_order(client, saga_task_queue, shop)
    await handle.terminate("test over")

    assert await shop.payments(order["order_id"]) == [("charge", 4_200)]


async def test_operator_resolve_closes_a_parked_order_as_compensated(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    _, handle, _ = await _parked_order(client, saga_task_queue, shop)

    await operator_action(
        handle, "resolve", reason="refunded and restocked by hand", operator="support"
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    state = await saga_state(handle)

    assert state.status is SagaStatus.COMPENSATED
    refund = state.step("charge").compensation
    assert refund is not None
    assert refund.status is CompensationStatus.RESOLVED
    assert state.operator_actions[0].reason == "refunded and restocked by hand"


async def test_operator_retry_once_refunds_are_back_refunds_and_releases(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order, handle, _ = await _parked_order(client, saga_task_queue, shop)

    await shop.set_refunds_down(order["order_id"], False)
    await operator_action(handle, "retry", reason="refund API fixed", operator="support")
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert (await saga_state(handle)).status is SagaStatus.COMPENSATED
    assert await shop.history(order["order_id"]) == ["reserved", "charged", "refunded", "released"]
    assert await shop.payments(order["order_id"]) == [("charge", 4_200), ("refund", 4_200)]


async def test_operator_skip_of_the_refund_lets_the_saga_release_the_stock(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    order, handle, _ = await _parked_order(client, saga_task_queue, shop)

    await operator_action(handle, "skip", step="charge", reason="refund sent by bank transfer")
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await shop.history(order["order_id"]) == ["reserved", "charged", "released"]


async def test_retried_charge_returns_the_recorded_payment_without_charging_twice(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    # Starting the same order again while it runs returns the same saga: one charge.
    order = _order()
    first = await _start(client, saga_task_queue, order)
    second = await _start(client, saga_task_queue, order)

    assert first.id == second.id
    await first.result()
    assert await shop.payments(order["order_id"]) == [("charge", 4_200)]


async def test_charge_retried_after_its_commit_charges_once(
    client: Client, saga_task_queue: str, shop: Services
) -> None:
    # The first attempt commits the charge, then fails as if its reply were lost.
    charge_attempts: list[int] = []

    def lose_first_charge_reply(key: str, attempt: int) -> FaultPoint | None:
        if not key.endswith("/charge"):
            return None
        charge_attempts.append(attempt)
        return "after" if attempt == 1 else None

    inject_faults(lose_first_charge_reply)
    order = _order()
    handle = await _start(client, saga_task_queue, order)

    result = await handle.result()

    assert charge_attempts == [1, 2]
    assert await shop.payments(order["order_id"]) == [("charge", 4_200)]
    assert result["payment"]["amount_cents"] == 4_200


async def test_charging_twice_with_one_key_returns_the_recorded_payment(shop: Services) -> None:
    order = Order.model_validate(_order())
    key = f"order-fulfillment/{order.order_id}/charge"

    first = await shop.charge(key, order)
    again = await shop.charge(key, order)

    assert again == first
    assert await shop.payments(order.order_id) == [("charge", 4_200)]


async def test_late_charge_after_its_refund_voided_the_key_charges_nothing(
    shop: Services,
) -> None:
    # A charge attempt still in flight when the saga gave up on it (a zombie) must
    # not take effect after its compensation found nothing to refund.
    order = Order.model_validate(_order())
    key = f"order-fulfillment/{order.order_id}/charge"

    refunded = await shop.refund(f"{key}/compensate", key, order)
    with pytest.raises(ApplicationError) as raised:
        await shop.charge(key, order)

    assert refunded is False
    assert raised.value.type == STEP_VOIDED
    assert await shop.payments(order.order_id) == []
