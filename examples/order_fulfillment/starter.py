"""Place one order through the order-fulfillment saga and print what happened.

Usage (from the repository root, with the worker running and ``SAGAS_EXAMPLE_DSN``
naming the worker's database)::

    python -m examples.order_fulfillment.starter                 # reserved, charged, shipped
    python -m examples.order_fulfillment.starter --card declined # stock released
    python -m examples.order_fulfillment.starter --no-address --refunds-down
        # the pivot fails, the refund keeps failing: the saga parks for an operator
    python -m examples.order_fulfillment.starter --refunds-back ORDER_ID
        # the refund API is back for that order: `sagas retry ORDER_ID` then refunds

It prints the outcome, then what the services recorded in PostgreSQL for the order:
its effects in commit order, its charges and refunds, and the stock left.
``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` point it at another server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from examples.order_fulfillment.activities import Order, services
from examples.order_fulfillment.workflows import TASK_QUEUE
from temporal_sagas import SagaPlugin, SagaStatus, saga_state, start_saga
from temporal_sagas.definitions import DefinitionSaga, DefinitionSagaInput


async def main(order: Order, *, refunds_down: bool = False) -> int:
    """Start the saga for ``order`` and report its outcome.

    Args:
        order: The order to place.
        refunds_down: Take the payment provider's refund API down for this order first.

    Returns:
        0 when the order shipped, 1 when it was compensated, 2 when it is parked.
    """
    shop = services()  # fails early, with the fix, when SAGAS_EXAMPLE_DSN is missing
    try:
        if refunds_down:
            await shop.set_refunds_down(order.order_id, True)
        code = await _place(order)
        await _report(order)
    finally:
        await shop.close()
    return code


async def _place(order: Order) -> int:
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    request = DefinitionSagaInput(
        name="order-fulfillment", version=1, input=order.model_dump(mode="json")
    )
    # The order id is the workflow id: placing the same order twice runs one saga.
    handle = await start_saga(
        client, DefinitionSaga.run, request, id=order.order_id, task_queue=TASK_QUEUE
    )
    print(f"Started saga {handle.id}")
    outcome = await _outcome(handle)
    if outcome == "parked":
        print(f"Order {order.order_id} is PARKED: a compensation failed for good.")
        print(f"  inspect it:  sagas show {order.order_id}")
        print(f'  settle it:   sagas resolve {order.order_id} --reason "refunded by hand"')
        print(f'  or skip it:  sagas skip {order.order_id} --step charge --reason "..."')
        print(
            "  or bring the refund API back:  python -m examples.order_fulfillment.starter"
            f" --refunds-back {order.order_id}  then  sagas retry {order.order_id} --reason ..."
        )
        return 2
    state = await saga_state(handle)
    if outcome == "compensated":
        print(f"Order {order.order_id} was NOT fulfilled; undone: {state.compensation_order}")
        return 1
    print(f"Order {order.order_id} shipped: {outcome}")
    return 0


async def refunds_back(order_id: str) -> int:
    """Bring the refund API back for ``order_id``; a retried refund then goes through."""
    shop = services()
    try:
        await shop.set_refunds_down(order_id, False)
    finally:
        await shop.close()
    print(
        f"The refund API is back for {order_id}; "
        f"now: sagas retry {order_id} --reason 'refund API fixed'"
    )
    return 0


async def _report(order: Order) -> None:
    """Print what the services recorded for ``order``."""
    shop = services()
    effects = await shop.history(order.order_id)
    payments = await shop.payments(order.order_id)
    print(f"  recorded effects: {', '.join(effects) or 'none'}")
    print(f"  payments: {', '.join(f'{kind} {cents}' for kind, cents in payments) or 'none'}")
    print(f"  {order.sku} in stock: {await shop.stock(order.sku)}")


async def _outcome(handle: WorkflowHandle[Any, Any]) -> Any:
    """The saga's result, ``"compensated"``, or ``"parked"`` once it needs an operator."""
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        if (await saga_state(handle)).status is SagaStatus.NEEDS_ATTENTION:
            result.cancel()
            return "parked"
        await asyncio.wait({result}, timeout=0.5)
    try:
        return result.result()
    except WorkflowFailureError:
        return "compensated"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", choices=["ok", "declined"], default="ok")
    parser.add_argument("--no-address", action="store_true", help="make the pivot fail")
    parser.add_argument(
        "--refunds-down", action="store_true", help="make this order's refunds fail"
    )
    parser.add_argument(
        "--refunds-back", metavar="ORDER_ID", help="let ORDER_ID's refunds through again, and exit"
    )
    args = parser.parse_args()
    if args.refunds_back:
        code = asyncio.run(refunds_back(args.refunds_back))
    else:
        placed = Order(
            order_id=f"order-{uuid.uuid4().hex[:8]}",
            sku="BOOK-42",
            quantity=1,
            amount_cents=2_500,
            card=args.card,
            address="" if args.no_address else "1 Rua Augusta, Lisbon",
        )
        code = asyncio.run(main(placed, refunds_down=args.refunds_down))
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
