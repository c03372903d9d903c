"""The same N-step saga, hand-written (as Temporal's samples teach) and with the framework.

`HandWrittenSaga` does what the samples do and nothing more; the framework matches it
with ``audit_log=False, search_attributes=False``. `HandWrittenAuditedSaga` is the same
saga with, written by hand, what the default engine adds: one hash-chained audit line
per transition and a ``SagaStatus`` search attribute kept current. The default engine
is compared with that one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from temporal_sagas import CompensationPolicy, Saga, StepOptions
from temporal_sagas._context import encode_step_header, outgoing_step
from temporal_sagas._contract import SAGA_STATUS

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=50))


class Order(BaseModel):
    """One saga's input: how many steps, and which one (if any) fails."""

    model_config = ConfigDict(frozen=True)

    key: str
    steps: int = 3
    fail_at: int | None = None
    lean: bool = False  # framework only: no live audit log, no search attributes


class StepIn(BaseModel):
    """What each step activity receives."""

    model_config = ConfigDict(frozen=True)

    key: str
    index: int
    fail: bool = False


@activity.defn
async def do_step(step: StepIn) -> str:
    """A no-op action, failing for good when told to."""
    if step.fail:
        raise ApplicationError("declined", non_retryable=True)
    return f"{step.key}:{step.index}"


@activity.defn
async def undo_step(step: StepIn) -> None:
    """A no-op compensation."""


@workflow.defn
class HandWrittenSaga:
    """try/except and a reversed list of compensations."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run the steps; on failure undo the registered ones newest first."""
        undo: list[StepIn] = []
        results: list[str] = []
        try:
            for i in range(order.steps):
                step = StepIn(key=order.key, index=i, fail=i == order.fail_at)
                undo.append(step)
                results.append(
                    await workflow.execute_activity(
                        do_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                    )
                )
        except ActivityError:
            for step in reversed(undo):
                await workflow.execute_activity(
                    undo_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                )
            raise
        return results


@workflow.defn
class FrameworkSaga:
    """The same saga with `temporal_sagas.Saga`."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run the steps through the saga engine."""
        options = StepOptions(start_to_close_timeout=TIMEOUT, retry_policy=RETRY)
        results: list[str] = []
        async with Saga(
            "bench",
            key=order.key,
            action_options=options,
            compensation_options=options,
            audit_log=not order.lean,
            search_attributes=not order.lean,
        ) as saga:
            for i in range(order.steps):
                step = StepIn(key=order.key, index=i, fail=i == order.fail_at)
                results.append(await saga.step(f"s{i}", do_step, step, compensate=undo_step))
        return results


@workflow.defn
class HandWrittenSagaAgain:
    """The hand-written saga under a second name, for the benchmark's A/A check."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run exactly what `HandWrittenSaga` runs."""
        return await HandWrittenSaga().run(order)


@workflow.defn
class HandWrittenSagaWithHeaders:
    """`HandWrittenSaga` carrying what the lean engine adds to its activities, nothing more.

    Each activity gets the engine's activity id and step header (the same bytes, attached
    by the same interceptor, read back by the same activity interceptor); the saga's code
    and its outcome stay the hand-written ones. Against `HandWrittenSaga`, it prices those
    bytes (in the dev server, the SDK's core, the activity side) apart from the engine's
    workflow code and the report its outcome carries.
    """

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run `HandWrittenSaga`'s steps under the engine's ids and headers."""
        undo: list[tuple[str, StepIn]] = []
        results: list[str] = []
        try:
            for i in range(order.steps):
                name, step = f"s{i}", StepIn(key=order.key, index=i, fail=i == order.fail_at)
                undo.append((name, step))
                results.append(await _as_the_engine_would(do_step, step, order.key, name))
        except ActivityError:
            for index, (name, step) in reversed(list(enumerate(undo))):
                # The engine tells a compensation whether its action's result came back.
                done = index < len(results)
                await _as_the_engine_would(undo_step, step, order.key, name, completed=done)
            raise
        return results


async def _as_the_engine_would(
    fn: Any, step: StepIn, key: str, name: str, *, completed: bool = False
) -> Any:
    kind = "action" if fn is do_step else "compensation"
    activity_id = f"bench/{key}/{name}" + ("/compensate" if kind == "compensation" else "")
    header = encode_step_header(
        saga="bench",
        saga_key=key,
        step=name,
        kind=kind,
        workflow_id=workflow.info().workflow_id,
        policy=CompensationPolicy.SEQUENTIAL,
        pivot=False,
        after_pivot=False,
        compensation=undo_step.__name__,
        compensate_on="attempt",
        action_completed=completed,
    )
    token = outgoing_step.set(header)
    try:
        handle = workflow.start_activity(
            fn, step, activity_id=activity_id, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )
    finally:
        outgoing_step.reset(token)
    return await handle


_audit = structlog.get_logger("bench.audit")


class _HandAudit:
    """A by-hand audit trail: the engine's fields, hash-chained, logged once (not on replay)."""

    def __init__(self, key: str) -> None:
        info = workflow.info()
        self._run_id = info.run_id
        self._base = {
            "saga": "bench",
            "saga_key": key,
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "correlation_id": info.workflow_id,
        }
        self._task, self._index = 0, 0
        self._prev: dict[str, Any] | None = None
        self._scheduled: dict[str, tuple[str, float]] = {}
        self.status = "RUNNING"

    def set_status(self, status: str) -> None:
        """Keep ``SagaStatus`` current, as the engine does."""
        self.status = status
        workflow.upsert_search_attributes([SAGA_STATUS.value_set(status)])

    def log(self, kind: str, step: str | None = None, error: str | None = None) -> None:
        """Chain one transition to the one before and log it."""
        task = workflow.info().get_current_history_length()
        self._task, self._index = task, self._index + 1 if task == self._task else 0
        now = workflow.now()
        event_id = f"{self._run_id}/{task}.{self._index}"
        cause = self._prev["event_id"] if self._prev else None
        duration = None
        if step is not None and kind.endswith(".scheduled"):
            self._scheduled[step] = (event_id, now.timestamp())
        elif step is not None and step in self._scheduled:
            cause, at = self._scheduled.pop(step)
            duration = round((now.timestamp() - at) * 1000, 3)
        fields: dict[str, Any] = {
            "event_id": event_id,
            "kind": kind,
            "at": now.isoformat(),
            **self._base,
            "step": step,
            "status": self.status,
            "idempotency_key": None if step is None else f"{self._base['saga_key']}/{step}",
            "attempt": None if step is None else 1,
            "duration_ms": duration,
            "error": error,
            "detail": None,
            "causation_id": cause,
            "prev_hash": self._prev["hash"] if self._prev else None,
        }
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        fields["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
        self._prev = fields
        if not workflow.unsafe.is_replaying():
            _audit.info(kind, saga_audit=True, **fields)


@workflow.defn
class HandWrittenAuditedSaga:
    """`HandWrittenSaga` plus, by hand, the default engine's audit log and status attribute."""

    @workflow.run
    async def run(self, order: Order) -> list[str]:
        """Run the steps, logging each transition; on failure undo them newest first."""
        audit = _HandAudit(order.key)
        audit.log("saga.started")
        undo: list[tuple[str, StepIn]] = []
        results: list[str] = []
        try:
            for i in range(order.steps):
                name, step = f"s{i}", StepIn(key=order.key, index=i, fail=i == order.fail_at)
                undo.append((name, step))
                audit.log("step.scheduled", name)
                try:
                    results.append(
                        await workflow.execute_activity(
                            do_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                        )
                    )
                except ActivityError as err:
                    audit.log("step.failed", name, error=f"{type(err).__name__}: {err}")
                    raise
                audit.log("step.completed", name)
        except ActivityError:
            audit.set_status("COMPENSATING")
            for name, step in reversed(undo):
                audit.log("compensation.scheduled", name)
                await workflow.execute_activity(
                    undo_step, step, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
                )
                audit.log("compensation.completed", name)
            audit.set_status("COMPENSATED")
            audit.log("saga.closed")
            raise
        audit.set_status("COMPLETED")
        audit.log("saga.closed")
        return results
