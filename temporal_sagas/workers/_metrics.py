"""Prometheus metrics: Temporal's own, plus saga counters and step latencies.

Temporal's metrics come from the SDK core's Prometheus exporter, enabled on the
process `Runtime`. Saga metrics are recorded through the same meter by
`SagaMetricsInterceptor`, without touching the engine:

* in workflows, it watches the ``SagaStatus`` search attribute the engine keeps in
  ``workflow.info()`` (a condition, which adds no command to the history) and
  counts transitions with ``workflow.metric_meter()``, which records nothing while
  a history is replayed; so a saga is counted once, whichever worker resumes it;
* in activities, it times each attempt of a saga step or compensation with
  ``activity.metric_meter()``.

Metric names (all with the labels ``namespace``, ``task_queue`` and ``saga``):

=================================  =========================================================
``saga_started_total``             sagas seen running for the first time
``saga_completed_total``           sagas that closed COMPLETED
``saga_compensated_total``         sagas that closed COMPENSATED
``saga_parked_total``              sagas parked in NEEDS_ATTENTION
``saga_cancelled_total``           sagas that closed CANCELLED
``saga_failed_total``              sagas that closed FAILED
``saga_step_latency``              ms per step action attempt (label ``step``, ``outcome``)
``saga_compensation_latency``      ms per compensation attempt (label ``step``, ``outcome``)
=================================  =========================================================
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import temporalio.worker
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from temporal_sagas._contract import SAGA_NAME, SAGA_STATUS, STEP_HEADER
from temporal_sagas._models import StepContext
from temporal_sagas.workers._logging import core_log_forwarding

_converter = pydantic_data_converter.payload_converter

#: Counter name for each status a saga can move to.
STATUS_COUNTERS = {
    "RUNNING": "saga_started_total",
    "COMPLETED": "saga_completed_total",
    "COMPENSATED": "saga_compensated_total",
    "NEEDS_ATTENTION": "saga_parked_total",
    "CANCELLED": "saga_cancelled_total",
    "FAILED": "saga_failed_total",
}


def build_runtime(metrics_address: str | None, log_level: str = "INFO") -> Runtime:
    """A Temporal `Runtime` that forwards core logs and, if asked, serves Prometheus metrics.

    Args:
        metrics_address: ``host:port`` for ``/metrics``; no exporter when ``None``.
        log_level: The worker's log level (``DEBUG`` forwards the core's info logs too).
    """
    metrics = PrometheusConfig(bind_address=metrics_address) if metrics_address else None
    return Runtime(
        telemetry=TelemetryConfig(metrics=metrics, logging=core_log_forwarding(log_level))
    )


class SagaMetricsInterceptor(temporalio.worker.Interceptor):
    """Worker interceptor that records saga counters and step latencies.

    Add it to a worker next to `SagaPlugin` (``sagas worker`` does):
    ``Worker(client, ..., interceptors=[SagaMetricsInterceptor()])``. Counters need
    the saga's search attributes (the `Saga` default).
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Time saga step and compensation attempts."""
        return _TimedActivity(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        """Count saga status transitions."""
        return _CountingWorkflow


class _StatusWatch:
    """Counts each new ``SagaStatus`` value a workflow publishes."""

    def __init__(self) -> None:
        self.last: str | None = None

    def current(self) -> str | None:
        return workflow.info().typed_search_attributes.get(SAGA_STATUS)

    def changed(self) -> bool:
        return self.current() != self.last

    def record(self) -> None:
        status = self.current()
        if status == self.last:
            return
        self.last = status
        name = STATUS_COUNTERS.get(status or "")
        if name is None:
            return
        saga = workflow.info().typed_search_attributes.get(SAGA_NAME) or "unknown"
        workflow.metric_meter().create_counter(name, "saga status transitions").add(
            1, {"saga": saga}
        )

    async def follow(self) -> None:
        while True:
            await workflow.wait_condition(self.changed)
            self.record()


class _CountingWorkflow(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        watch = _StatusWatch()
        watch.record()
        follower = asyncio.get_running_loop().create_task(watch.follow())
        try:
            result = await super().execute_workflow(input)
        except (Exception, asyncio.CancelledError):
            # The closing status is upserted in the workflow's last activation, which
            # may end before the follower wakes up: look once more.
            watch.record()
            raise
        finally:
            follower.cancel()
        watch.record()
        return result


class _TimedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        # Read the header itself: the interceptor order on a worker is not guaranteed.
        payload = input.headers.get(STEP_HEADER)
        if payload is None:
            return await super().execute_activity(input)
        context = _converter.from_payloads([payload], [StepContext])[0]
        started = time.monotonic()
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
            outcome = "ok"
            return result
        finally:
            name = "saga_step_latency" if context.kind == "action" else "saga_compensation_latency"
            elapsed = timedelta(seconds=time.monotonic() - started)
            activity.metric_meter().create_histogram_timedelta(
                name, f"duration of saga {context.kind} attempts", "ms"
            ).record(elapsed, {"saga": context.saga, "step": context.step, "outcome": outcome})
