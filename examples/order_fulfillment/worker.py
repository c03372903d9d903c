"""Run a worker for the order-fulfillment saga until interrupted.

Usage (from the repository root, with a Temporal server at localhost:7233, for
example ``sagas dev``, and a PostgreSQL database you may write to)::

    SAGAS_EXAMPLE_DSN='host=127.0.0.1 user=postgres dbname=shop' \
        python -m examples.order_fulfillment.worker

The inventory, payment and shipping tables are created in that database on start.
``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` point it at another server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from examples.order_fulfillment.activities import ACTIVITIES, services
from examples.order_fulfillment.workflows import TASK_QUEUE, register
from temporal_sagas import SagaPlugin
from temporal_sagas.definitions import DefinitionSaga
from temporal_sagas.workers import ensure_search_attributes


async def main() -> None:
    """Register the definition, connect to Temporal and poll the task queue."""
    logging.basicConfig(level=logging.INFO)
    # Before polling: an invalid order.yaml or an unknown activity name stops here.
    definition = register()
    await services().open()  # fails early, with the fix, when SAGAS_EXAMPLE_DSN is missing
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    await ensure_search_attributes(client)
    worker = Worker(
        client, task_queue=TASK_QUEUE, workflows=[DefinitionSaga], activities=ACTIVITIES
    )
    print(f"Worker for {definition.ref} polling {TASK_QUEUE!r} on {address} (Ctrl-C to stop)")
    await worker.run()


if __name__ == "__main__":
    code = 0
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
