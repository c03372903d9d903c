"""Run a saga worker process: connect, build the worker, serve until told to stop.

``sagas worker`` calls `serve`. A first SIGTERM or SIGINT stops polling and gives
running activities ``graceful_shutdown_seconds`` to finish (then they are
cancelled), and the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Interceptor, Worker

from temporal_sagas._operators import register_operator_keys
from temporal_sagas.workers._app import SagaApp
from temporal_sagas.workers._connect import ConnectError, connect
from temporal_sagas.workers._health import HealthServer
from temporal_sagas.workers._metrics import SagaMetricsInterceptor, build_runtime
from temporal_sagas.workers._servers import ensure_search_attributes
from temporal_sagas.workers._settings import SettingsError, WorkerSettings

_log = structlog.get_logger("temporal_sagas.worker")

#: How long registering the saga search attributes may take before it is skipped.
_SEARCH_ATTRIBUTE_TIMEOUT_SECONDS = 5.0


async def register_search_attributes(client: Client) -> None:
    """Register ``SagaName``/``SagaStatus`` where the server allows it; warn otherwise.

    A dev server or a self-hosted cluster accepts it; Temporal Cloud does not (register
    them there with ``tcld`` or the Cloud UI), which is worth a warning, not a failure.
    """
    try:
        added = await asyncio.wait_for(
            ensure_search_attributes(client), _SEARCH_ATTRIBUTE_TIMEOUT_SECONDS
        )
    except Exception as err:
        _log.warning(
            "search attributes not checked",
            error=str(err) or type(err).__name__,
            hint="register SagaName and SagaStatus (Keyword) in the namespace, or sagas "
            "will fail their workflow tasks when they publish their status",
        )
        return
    if added:
        _log.info("search attributes registered", added=added)


def build_worker(
    client: Client,
    app: SagaApp,
    settings: WorkerSettings,
    *,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A `Worker` for ``app``, with the settings' task queue, limits and grace period."""
    options: dict[str, Any] = dict(app.worker_options)
    limits = {
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_concurrent_local_activities": settings.max_concurrent_local_activities,
    }
    options.update({name: value for name, value in limits.items() if value is not None})
    keys = settings.load_operator_keys()  # a malformed file stops the worker here
    worker = Worker(
        client,
        task_queue=settings.task_queue or app.task_queue,
        workflows=_workflows_with_definitions(app),
        activities=list(app.activities),
        interceptors=[SagaMetricsInterceptor(), *interceptors],
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        **options,
    )
    if keys is not None:
        # The settings name the keys: they win over the client's SagaPlugin, which
        # registered its own (often none) while the Worker was built.
        register_operator_keys(worker.task_queue, keys)
    return worker


def _workflows_with_definitions(app: SagaApp) -> list[type]:
    """The app's sagas, plus the generic definition workflow when it lists definitions.

    Definitions are registered and checked against the app's activities here, at
    start-up, so a definition naming an unknown activity stops the worker before it
    polls instead of failing sagas later.
    """
    workflows = list(app.sagas)
    if not app.definitions:
        return workflows
    from temporal_sagas.definitions._workflow import (
        DefinitionSaga,
        register_definition,
        validate_definitions,
    )

    registered = [register_definition(d) for d in app.definitions]
    validate_definitions(registered, list(app.activities))
    if DefinitionSaga not in workflows:
        workflows.append(DefinitionSaga)
    return workflows


class _Readiness:
    """What ``/readyz`` answers: connected, polling, and not shutting down."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.stopping = False

    def __call__(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "shutting down"
        if self.worker is None:
            return False, "connecting to Temporal"
        if not self.worker.is_running:
            return False, "worker not polling yet"
        return True, f"polling task queue {self.worker.task_queue}"


async def serve(app: SagaApp, settings: WorkerSettings) -> int:
    """Run ``app``'s worker until a stop signal; return the process exit code.

    Raises:
        ConnectError: The server could not be reached.
        SettingsError: A metrics or health address cannot be bound.
    """
    readiness = _Readiness()
    health = HealthServer(settings.health_address, readiness) if settings.health_address else None
    if health is not None:
        try:
            await health.start()
        except OSError as err:
            raise SettingsError(
                f"setting 'health_address': cannot listen on {settings.health_address} ({err}); "
                "pick a free port (--health-address / SAGAS_HEALTH_ADDRESS)"
            ) from None
    try:
        runtime = _runtime(settings)
        client = await connect(
            settings.connect_options(),
            runtime=runtime,
            passthrough_modules=app.passthrough_modules,
        )
        await register_search_attributes(client)
        worker = build_worker(client, app, settings)
        readiness.worker = worker
        async with hosted_sweeper(client, settings):
            return await _run_until_signalled(worker, readiness, settings)
    finally:
        if health is not None:
            await health.stop()


@contextlib.asynccontextmanager
async def hosted_sweeper(client: Client, settings: WorkerSettings) -> AsyncIterator[None]:
    """Run a `SagaSweeper` beside the worker when the settings ask for one."""
    if settings.sweep_interval_seconds is None:
        yield
        return
    from temporal_sagas.workers._rescuer import SagaSweeper

    sweeper = SagaSweeper(
        client,
        interval=timedelta(seconds=settings.sweep_interval_seconds),
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sweeper.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def _runtime(settings: WorkerSettings) -> Runtime:
    try:
        return build_runtime(settings.metrics_address, settings.log_level)
    except Exception as err:
        raise SettingsError(
            f"setting 'metrics_address': cannot serve metrics on {settings.metrics_address} "
            f"({err}); pick a free port (--metrics-address / SAGAS_METRICS_ADDRESS)"
        ) from None


async def _run_until_signalled(
    worker: Worker, readiness: _Readiness, settings: WorkerSettings
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            _log.warning("second stop signal: exiting now", signal=signal.Signals(signum).name)
            hard_exit(128 + signum)
        readiness.stopping = True
        _log.info(
            "stopping: no new tasks; running activities may finish",
            signal=signal.Signals(signum).name,
            grace_seconds=settings.graceful_shutdown_seconds,
        )
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    _log.info(
        "worker starting",
        address=settings.address,
        namespace=settings.namespace,
        task_queue=worker.task_queue,
        metrics=settings.metrics_address,
        health=settings.health_address,
        operator_keys=str(settings.operator_keys)
        if settings.operator_keys
        else "none (development mode: operator actions are unauthenticated)",
    )
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            error = running.exception()
            raise ConnectError(
                f"the worker stopped on its own: {error}; check the namespace "
                f"{settings.namespace!r} exists on {settings.address}"
            )
        await worker.shutdown()
        await running  # returns once SagaPlugin logged the last audit events
    finally:
        stopping.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _log.info("worker stopped", task_queue=worker.task_queue)
    return 0


def hard_exit(code: int) -> None:
    """Flush and leave now, skipping interpreter finalization (no exit code 134)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
