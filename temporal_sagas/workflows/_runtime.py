"""The engine's shared machinery: status, timeline, activity calls, shielding.

Everything here runs inside the workflow sandbox and is deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from temporal_sagas._context import encode_step_header, outgoing_step
from temporal_sagas._contract import SAGA_NAME, SAGA_STATUS
from temporal_sagas._models import FailureInfo, SagaEventKind, SagaStatus
from temporal_sagas.audit._events import AUDIT_MARKER, AuditChain, SagaIdentity, event_id
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._records import Ledger, Step, TimelineRow, timeline_event

with workflow.unsafe.imports_passed_through():
    # One writer (and thread) per process, also where temporal_sagas is not passed through.
    from temporal_sagas.audit._writer import AUDIT_WRITER

T = TypeVar("T")


class SagaRuntime:
    """State and services shared by the step runner, the compensator and the operator desk."""

    # Slotted: one object fewer per saga for the collector to walk while it is open.
    __slots__ = (
        "_audit",
        "_audit_log",
        "_index",
        "_info",
        "_now",
        "_search_attributes",
        "_task",
        "ledger",
    )

    def __init__(self, ledger: Ledger, *, search_attributes: bool, audit_log: bool = True) -> None:
        self.ledger = ledger
        self._search_attributes = search_attributes
        self._audit_log = audit_log
        # The run's info does not change; its history length is read through it.
        self._info = workflow.info()
        # Audit bookkeeping, rebuilt identically on every replay: the workflow task
        # the last event was emitted in, its time, the event's index in that task,
        # and the chain's last hash.
        self._task = 0
        self._now = ledger.started_at
        self._index = -1
        self._audit: AuditChain | None = None

    # -- timeline and status ---------------------------------------------------------------

    def emit(
        self,
        kind: SagaEventKind,
        *,
        step: str | None = None,
        detail: str | None = None,
        failure: FailureInfo | None = None,
    ) -> datetime:
        """Record a transition in the timeline and log it once (never on replay).

        The audit event goes to `AUDIT_WRITER`, which logs it off the workflow
        thread. Without the audit log the event still gets its id (the timeline is
        what the query returns and what history rebuilds compare with), but no chain.

        Returns:
            The event's time (workflow time).
        """
        task = self._current_task()
        self._index += 1
        at = self._now
        # `_value_` rather than `.value`: the same string without a descriptor call,
        # and this runs for every transition of every saga.
        row = (
            kind._value_,
            event_id(self.ledger.run_id, task, self._index),
            at,
            step,
            self.ledger.status._value_,
            detail,
            failure,
        )
        self.ledger.timeline.append(row)
        if self._audit_log:
            self._log(row)
        return at

    def now(self) -> datetime:
        """Workflow time, as `workflow.now` gives it."""
        self._current_task()
        return self._now

    def _current_task(self) -> int:
        """The id of the current task's WorkflowTaskStarted event, the same on every replay.

        During a workflow task the current history length is that id (also when the
        task is replayed). Workflow time only moves when a new task starts, so it is
        read once per task.
        """
        task = self._info.get_current_history_length()
        if task != self._task:
            self._task, self._now, self._index = task, workflow.now(), -1
        return task

    def _log(self, row: TimelineRow) -> None:
        event = timeline_event(row)
        record = self.ledger.find(event.step) if event.step is not None else None
        fields = self._chain().append(event, record.idempotency_key if record else None)
        if not workflow.unsafe.is_replaying_history_events():
            fields[AUDIT_MARKER] = True
            AUDIT_WRITER.submit(event.kind.value, fields)

    def _chain(self) -> AuditChain:
        # Built on first use: the identity is fixed for the run by then.
        if self._audit is None:
            ledger = self.ledger
            self._audit = AuditChain(
                SagaIdentity(
                    saga=ledger.name,
                    saga_key=ledger.key,
                    workflow_id=ledger.workflow_id,
                    run_id=ledger.run_id,
                    correlation_id=correlation_id(),
                )
            )
        return self._audit

    def set_status(self, status: SagaStatus) -> None:
        """Move the saga to ``status``; the search attribute is upserted only on a change."""
        if status is self.ledger.status:
            return
        self.ledger.status = status
        if self._search_attributes:
            workflow.upsert_search_attributes([SAGA_STATUS.value_set(status.value)])

    def publish_start(self) -> None:
        """Set both search attributes at start unless the starter already did."""
        if not self._search_attributes:
            return
        current: TypedSearchAttributes = workflow.info().typed_search_attributes
        wanted = [
            SearchAttributePair(SAGA_NAME, self.ledger.name),
            SearchAttributePair(SAGA_STATUS, SagaStatus.RUNNING.value),
        ]
        if all(current.get(pair.key) == pair.value for pair in wanted):
            return
        workflow.upsert_search_attributes(
            [SAGA_NAME.value_set(self.ledger.name), SAGA_STATUS.value_set(SagaStatus.RUNNING.value)]
        )

    # -- calling activities --------------------------------------------------------------

    def header_for(self, step: Step, kind: Literal["action", "compensation", "probe"]) -> bytes:
        """The step header an activity of ``step`` carries: its `StepContext`, as JSON."""
        # The step's facts ride along so the history alone can rebuild the SagaState.
        compensation = step.compensation or step.deferred_compensation
        ledger = self.ledger
        return encode_step_header(
            saga=ledger.name,
            saga_key=ledger.key,
            step=step.name,
            kind=kind,
            workflow_id=ledger.workflow_id,
            policy=ledger.policy,
            pivot=step.pivot,
            after_pivot=step.after_pivot,
            compensation=compensation.activity_name if compensation else None,
            compensate_on="attempt" if step.deferred_compensation is None else "success",
            probe=step.probe_name,
            # Only a compensation needs it: its action's record must exist then.
            action_completed=kind == "compensation" and step.has_result,
            adopted=(step.activity_name, step.status.value) if step.adopted else None,
        )

    def start_activity(
        self,
        activity: Any,
        args: list[Any],
        *,
        header: bytes,
        activity_id: str,
        options: StepOptions,
        local: bool,
        result_type: type | None,
    ) -> Awaitable[Any]:
        """Schedule an activity with the step header (`header_for`) attached.

        The outbound interceptor reads `outgoing_step` synchronously while the
        command is built, so the context variable only needs to be set around it.
        """
        token = outgoing_step.set(header)
        try:
            if local:
                return workflow.start_local_activity(
                    activity,
                    args=args,
                    activity_id=activity_id,
                    result_type=result_type,
                    **options.activity_kwargs(local=True),
                )
            return workflow.start_activity(
                activity,
                args=args,
                activity_id=activity_id,
                result_type=result_type,
                **options.activity_kwargs(local=False),
            )
        finally:
            outgoing_step.reset(token)

    async def start_child(
        self,
        saga_workflow: Any,
        arg: Any,
        *,
        header: bytes,
        workflow_id: str,
        task_queue: str | None,
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        """Start a child saga with the step header (`header_for`) attached.

        The outbound interceptor reads `outgoing_step` when the start command is
        built, which happens inside the awaited call, in this task.
        """
        token = outgoing_step.set(header)
        try:
            return await workflow.start_child_workflow(
                saga_workflow, arg, id=workflow_id, task_queue=task_queue
            )
        finally:
            outgoing_step.reset(token)

    # -- cancellation ----------------------------------------------------------------------

    async def run_to_end(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` to its end even if the workflow is cancelled meanwhile.

        A single ``asyncio.shield`` then ``raise`` would abandon the work; instead the
        cancel is noted and the work awaited again until it is done.
        """
        task = asyncio.ensure_future(work())
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done():
                    raise
                self.note_cancel()

    def note_cancel(self) -> None:
        """Remember that a cancel arrived while the saga could not stop."""
        if not self.ledger.cancel_requested:
            self.ledger.cancel_requested = True
            self.emit(SagaEventKind.CANCEL_REQUESTED, detail=workflow.cancellation_reason())


@dataclass(frozen=True, slots=True)
class ActivityLaunch:
    """Schedules one step's action activity, given the activity id of the attempt.

    A slotted object rather than a closure: a closure holds a cell per value it uses,
    all of them for the garbage collector to walk for as long as the activity runs.
    """

    runtime: SagaRuntime
    activity: Any
    args: list[Any]
    step: Step
    options: StepOptions
    local: bool
    result_type: type | None

    def __call__(self, activity_id: str) -> Awaitable[Any]:
        """Schedule the action under ``activity_id``."""
        rt = self.runtime
        return rt.start_activity(
            self.activity,
            self.args,
            header=rt.header_for(self.step, "action"),
            activity_id=activity_id,
            options=self.options,
            local=self.local,
            result_type=self.result_type,
        )


def correlation_id() -> str:
    """The id shared by everything one business request caused: the root workflow's id."""
    info = workflow.info()
    return info.root.workflow_id if info.root is not None else info.workflow_id
