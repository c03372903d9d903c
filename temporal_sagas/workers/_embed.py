"""Run a saga worker inside another program, e.g. in an ASGI app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from temporal_sagas.workers._app import SagaApp
from temporal_sagas.workers._connect import ConnectError, connect
from temporal_sagas.workers._metrics import build_runtime
from temporal_sagas.workers._run import build_worker, hosted_sweeper
from temporal_sagas.workers._settings import WorkerSettings


@dataclass(frozen=True)
class BackgroundWorker:
    """A worker running in the background of an app.

    Attributes:
        client: The client the worker uses (with `SagaPlugin`); start sagas with it.
        worker: The running ``temporalio.worker.Worker``.
    """

    client: Client
    worker: Worker

    def ready(self) -> bool:
        """Whether the worker is polling its task queue (for the app's readiness probe)."""
        return self.worker.is_running


@asynccontextmanager
async def run_worker_in_background(
    app: SagaApp,
    settings: WorkerSettings | None = None,
    *,
    client: Client | None = None,
) -> AsyncIterator[BackgroundWorker]:
    """Run ``app``'s worker while the ``async with`` block runs.

    On entry the worker connects (unless ``client`` is given) and is polling before
    the block starts; on exit it stops polling, lets running activities finish within
    ``settings.graceful_shutdown_seconds``, and returns. Signals are left to the app.

    Example::

        async with run_worker_in_background(app, WorkerSettings.load()) as sagas:
            await serve_http(sagas.client)

    Args:
        app: What the worker runs.
        settings: Connection and worker settings; read from the environment when omitted.
        client: An existing client connected with `SagaPlugin`, to share with the app.

    Raises:
        ConnectError: The server could not be reached, or the worker could not start.
    """
    settings = settings if settings is not None else WorkerSettings.load()
    if client is None:
        runtime = (
            build_runtime(settings.metrics_address, settings.log_level)
            if settings.metrics_address
            else None
        )
        client = await connect(
            settings.connect_options(),
            runtime=runtime,
            passthrough_modules=app.passthrough_modules,
        )
    worker = build_worker(client, app, settings)
    async with hosted_sweeper(client, settings), _running(worker) as background:
        yield BackgroundWorker(client=client, worker=background)


@asynccontextmanager
async def _running(worker: Worker) -> AsyncIterator[Worker]:
    """The worker polling while the block runs; stopped (activities given time) after."""
    running = asyncio.create_task(worker.run())
    # Wait (bounded by the namespace check the worker does first) until it polls; the
    # SDK offers no event for that, only the flag.
    while not worker.is_running and not running.done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if running.done():
        error = running.exception()
        raise ConnectError(
            f"the saga worker for task queue {worker.task_queue!r} did not start: {error}"
        )
    try:
        yield worker
    finally:
        await worker.shutdown()
        with contextlib.suppress(Exception):
            await running  # returns once SagaPlugin logged the last audit events
