"""Run a worker for the trip-booking saga, in both authoring styles, until interrupted.

Usage (from the repository root, with a Temporal server at localhost:7233)::

    python -m examples.trip_booking.worker

``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` point it at another server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from examples.trip_booking.activities import ACTIVITIES
from examples.trip_booking.workflows import TASK_QUEUE, BookTrip, BookTripDeclared
from temporal_sagas import SagaPlugin
from temporal_sagas.workers import ensure_search_attributes


async def main() -> None:
    """Connect to Temporal and poll the ``trip-booking`` task queue for both styles."""
    logging.basicConfig(level=logging.INFO)
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    # SagaPlugin sets the pydantic data converter, the interceptor that gives each
    # activity its idempotency key, and the sandbox passthroughs the engine needs.
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    # Sagas upsert the SagaName and SagaStatus search attributes; a dev server started
    # without them learns them here (on Temporal Cloud, register them beforehand).
    await ensure_search_attributes(client)
    # Both styles are registered on one worker: they are different workflow types over
    # the same activities, so the starter can run either one with --style.
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BookTrip, BookTripDeclared],
        activities=ACTIVITIES,
    )
    print(f"Worker polling task queue {TASK_QUEUE!r} on {address} (Ctrl-C to stop)")
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
