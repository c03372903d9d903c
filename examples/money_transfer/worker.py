"""Run a worker for the money-transfer saga until interrupted.

Usage (from the repository root, with a Temporal server at localhost:7233)::

    SAGAS_EXAMPLE_DSN='host=127.0.0.1 user=postgres dbname=bank' \
        python -m examples.money_transfer.worker [--fault-rate 0.2]

``--fault-rate`` makes that share of activity attempts fail transiently (half of them
after their commit), to watch the retries stay exactly-once. ``TEMPORAL_ADDRESS``
and ``TEMPORAL_NAMESPACE`` point it at another server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from examples.money_transfer.activities import ACTIVITIES, bank, inject_faults, transient_faults
from examples.money_transfer.workflows import TASK_QUEUE, Transfer
from temporal_sagas import SagaPlugin
from temporal_sagas.workers import ensure_search_attributes


async def main(fault_rate: float) -> None:
    """Connect to Temporal and PostgreSQL and poll the ``money-transfer`` task queue."""
    logging.basicConfig(level=logging.INFO)
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    await bank().open()  # fails early, with the fix, when SAGAS_EXAMPLE_DSN is missing
    if fault_rate:
        inject_faults(transient_faults(fault_rate))
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    await ensure_search_attributes(client)
    worker = Worker(client, task_queue=TASK_QUEUE, workflows=[Transfer], activities=ACTIVITIES)
    print(f"Worker polling task queue {TASK_QUEUE!r} on {address} (Ctrl-C to stop)")
    await worker.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of failed attempts")
    args = parser.parse_args()
    code = 0
    try:
        asyncio.run(main(args.fault_rate))
    except KeyboardInterrupt:
        code = 130
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
