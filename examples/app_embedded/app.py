"""A small HTTP app that books trips with sagas, its worker running in its own lifespan.

Standard library only. Endpoints:

* ``POST /trips`` with a JSON body ``{"traveller": ..., "destination": ..., "fail_at": ...}``
  starts a trip-booking saga and answers ``202`` with its ``trip_id``;
* ``GET /trips/<trip_id>`` answers the saga's status (``RUNNING``, ``COMPLETED``,
  ``COMPENSATED``...);
* ``GET /readyz`` answers ``200`` once the embedded worker polls.

Run it (with a Temporal server at localhost:7233, e.g. ``sagas dev --app
examples.app_embedded.app:trip_app``, or any server via ``TEMPORAL_ADDRESS``)::

    python -m examples.app_embedded.app
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client

from examples.trip_booking.activities import ACTIVITIES, TripRequest
from examples.trip_booking.workflows import TASK_QUEUE, BookTrip
from temporal_sagas import saga_state, start_saga
from temporal_sagas.workers import (
    BackgroundWorker,
    SagaApp,
    WorkerSettings,
    configure_logging,
    run_worker_in_background,
)

#: What the embedded worker runs: the trip-booking saga and its activities.
trip_app = SagaApp(task_queue=TASK_QUEUE, sagas=[BookTrip], activities=ACTIVITIES)


class TripsApi:
    """The app's HTTP handlers, talking to Temporal through the worker's client."""

    def __init__(self, sagas: BackgroundWorker, task_queue: str) -> None:
        self.sagas = sagas
        self.task_queue = task_queue

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Route one request to its handler."""
        if method == "GET" and path == "/readyz":
            ready = self.sagas.ready()
            return (200 if ready else 503), {"ready": ready}
        if method == "POST" and path == "/trips":
            return await self.book(json.loads(body or b"{}"))
        if method == "GET" and path.startswith("/trips/"):
            return await self.status(path.removeprefix("/trips/"))
        return 404, {"error": f"no route for {method} {path}"}

    async def book(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Start a booking saga; the trip id is its business key."""
        trip = TripRequest(trip_id=f"trip-{uuid.uuid4().hex[:8]}", **fields)
        await start_saga(
            self.sagas.client,
            BookTrip.run,
            trip,
            id=trip.trip_id,
            task_queue=self.task_queue,
            saga_name="book-trip",
        )
        return 202, {"trip_id": trip.trip_id}

    async def status(self, trip_id: str) -> tuple[int, dict[str, Any]]:
        """The saga's status, read by query."""
        state = await saga_state(self.sagas.client.get_workflow_handle(trip_id))
        return 200, {"trip_id": trip_id, "status": state.status.value}


@asynccontextmanager
async def running_app(
    settings: WorkerSettings, *, port: int, client: Client | None = None
) -> AsyncIterator[asyncio.Server]:
    """The app's lifespan: the saga worker starts first and stops last."""
    task_queue = settings.task_queue or trip_app.task_queue
    async with run_worker_in_background(trip_app, settings, client=client) as sagas:
        api = TripsApi(sagas, task_queue)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            method, path, _ = (await reader.readline()).decode().split(" ", 2)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            status, payload = await api.handle(method, path, await reader.readexactly(length))
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} -\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            yield server


async def main() -> None:
    """Serve on port 8000 until Ctrl-C or SIGTERM."""
    settings = WorkerSettings.load()
    configure_logging(settings.log_format, settings.log_level)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with running_app(settings, port=int(os.environ.get("PORT", "8000"))):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
