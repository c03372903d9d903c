"""Rebuild a saga's `SagaState` from its Temporal history, with no I/O.

The engine writes everything the state needs into the history it produces anyway:
each activity carries a `StepContext` header (saga, key, step, policy, pivot,
registered compensation), status changes are ``SagaStatus`` search-attribute
upserts, operator decisions are workflow updates, and every timeline timestamp is
the start time of the workflow task that made the transition. This module replays
those facts in the order the engine produced them.

A saga run without search attributes has no status upserts; its COMPENSATING and
closing status are inferred from its first compensation and the workflow's close event.

A child-saga step is read from the parent's child-workflow events; its start carries
the same header.

Known limits: local-activity steps are not rebuilt (their markers carry no header), a
saga that scheduled no activity reports its key as the workflow id and the default
policy, and without search attributes a park is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC as _UTC
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import (
    ActivityError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
)

from temporal_sagas._contract import (
    OPERATOR_UPDATES,
    SAGA_COMPENSATED,
    SAGA_NAME,
    SAGA_STATUS,
    STEP_HEADER,
    round_of,
)
from temporal_sagas._models import (
    CompensationPolicy,
    CompensationStatus,
    FailureInfo,
    OperatorAction,
    ProbeResult,
    SagaEvent,
    SagaEventKind,
    SagaState,
    SagaStatus,
    StepContext,
    StepStatus,
)
from temporal_sagas.audit._events import event_id
from temporal_sagas.history._files import SagaHistoryError
from temporal_sagas.history._steps import (
    CHILD_OUTCOMES,
    CLOSE_EVENTS,
    INPUT_EVENTS,
    RebuiltStep,
    Scheduled,
    outcome_attributes,
)
from temporal_sagas.workflows._probes import NO_EFFECT, TOOK_EFFECT, UNKNOWN
from temporal_sagas.workflows._records import failure_info

_converter = pydantic_data_converter
_payloads = _converter.payload_converter


@dataclass
class SagaHistoryView:
    """Everything rebuilt from one history: the state plus the decoded activity payloads.

    Attributes:
        state: The `SagaState`, equal to what the ``saga_state`` query answers.
        inputs: Per step name, the action's decoded arguments (JSON values).
        results: Per step name, the action's decoded result, when one was recorded.
        correlation_id: The root workflow's id (the saga's own for a root saga).
        probes: Per step name, the probe activity the step named, for steps with one.
    """

    state: SagaState
    inputs: dict[str, list[Any]]
    results: dict[str, Any]
    correlation_id: str = ""
    probes: dict[str, str] = field(default_factory=dict)


class _Rebuilder:
    def __init__(self, history: WorkflowHistory) -> None:
        self.history = history
        self.now: datetime | None = None
        self.last_task_started: datetime | None = None
        self.last_task_started_id = 0
        self.task_id = 0
        self.task_index = 0
        self.correlation_id = ""
        self.status = SagaStatus.RUNNING
        self.name: str | None = None
        self.key: str | None = None
        self.policy = CompensationPolicy.SEQUENTIAL
        self.run_id = ""
        self.started_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.steps: dict[str, RebuiltStep] = {}
        self.activities: dict[int, Scheduled] = {}
        self.timeline: list[SagaEvent] = []
        self.parked: list[str] = []
        self.operator_actions: list[OperatorAction] = []
        self.updates: dict[str, str] = {}
        self.update_identities: dict[str, str] = {}  # update id -> the caller's identity
        self.failure: FailureInfo | None = None
        self.cancel_requested = False
        self.cancel_after_child: str | None = None  # a cancel's reason, until its child closed
        self.pending: list[HistoryEvent] = []
        self.in_task = False

    # -- driving -----------------------------------------------------------------------

    def run(self) -> SagaHistoryView:
        for event in self.history.events:
            self.on_event(event)
        self.order_adopted()
        return self.view()

    def order_adopted(self) -> None:
        """A rescue's steps appear as their undo starts, newest first: list them oldest first."""
        adopted = [s for s in self.steps.values() if s.context.adopted_action is not None]
        if adopted:
            others = {n: s for n, s in self.steps.items() if s.context.adopted_action is None}
            self.steps = {s.name: s for s in reversed(adopted)} | others

    def on_event(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self.on_started(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            # Exactly how the SDK computes workflow.now(), float rounding included.
            self.last_task_started = datetime.fromtimestamp(
                event.event_time.ToNanoseconds() / 1e9, _UTC
            )
            self.last_task_started_id = event.event_id
            self.in_task = False
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            self.on_task_completed()
        elif kind in INPUT_EVENTS:
            self.in_task = False
            self.pending.append(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self.on_scheduled(event)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.on_child_initiated(event)
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            self.on_attributes(dict(fields.indexed_fields))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted = event.workflow_execution_update_accepted_event_attributes
            request = accepted.accepted_request
            self.updates[request.meta.update_id] = request.input.name
            self.update_identities[request.meta.update_id] = request.meta.identity
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            self.on_update_completed(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
            pass  # handled with the cancel request that caused it
        elif kind in CLOSE_EVENTS:
            self.on_workflow_closed(event)

    def on_started(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        self.run_id = attrs.original_execution_run_id or attrs.first_execution_run_id
        root = attrs.root_workflow_execution.workflow_id
        self.correlation_id = root if attrs.HasField("root_workflow_execution") else ""
        fields = dict(attrs.search_attributes.indexed_fields)
        if SAGA_NAME.name in fields:
            self.name = str(_payloads.from_payloads([fields[SAGA_NAME.name]])[0])

    def on_task_completed(self) -> None:
        """A workflow task completed: its inputs were processed at its start time."""
        self.now = self.last_task_started
        self.task_id, self.task_index = self.last_task_started_id, 0
        self.in_task = True
        if self.started_at is None:
            self.started_at = self.now
            self.emit(SagaEventKind.SAGA_STARTED, detail=None)
        pending, self.pending = self.pending, []
        cancel = next(
            (
                e
                for e in pending
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
            ),
            None,
        )
        for event in pending:
            if event is cancel:
                continue
            self.on_input(event)
        if cancel is not None:
            self.on_cancel(cancel)

    # -- inputs: results of activities, cancel requests --------------------------------

    def on_input(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            act = self.activities.get(attrs.scheduled_event_id)
            if act is not None:
                act.result = list(attrs.result.payloads)
                self.on_activity_done(act, None)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            fattrs = event.activity_task_failed_event_attributes
            self.on_activity_failed(fattrs.scheduled_event_id, "Activity task failed", fattrs)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            tattrs = event.activity_task_timed_out_event_attributes
            self.on_activity_failed(tattrs.scheduled_event_id, "Activity task timed out", tattrs)
        elif kind in CHILD_OUTCOMES:
            self.on_child_closed(event)

    def on_activity_failed(self, scheduled_id: int, message: str, attrs: Any) -> None:
        act = self.activities.get(scheduled_id)
        if act is None:
            return
        error = ActivityError(
            message,
            scheduled_event_id=scheduled_id,
            started_event_id=int(attrs.started_event_id),
            identity="",
            activity_type=act.activity_type,
            activity_id=act.activity_id,
            retry_state=None,
        )
        error.__cause__ = _decode_failure(attrs.failure)
        self.on_activity_done(act, failure_info(error))

    def on_child_closed(self, event: HistoryEvent) -> None:
        """A child saga's run ended: its step completes or fails as the parent saw it."""
        attrs = outcome_attributes(event)
        act = self.activities.get(int(attrs.initiated_event_id))
        if act is None:
            return
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            act.result = list(attrs.result.payloads)
            self.on_activity_done(act, None)
            return
        error = ChildWorkflowError(
            CHILD_OUTCOMES[event.event_type],
            namespace="",
            workflow_id=act.activity_id,
            run_id="",
            workflow_type=act.activity_type,
            initiated_event_id=int(attrs.initiated_event_id),
            started_event_id=int(getattr(attrs, "started_event_id", 0)),
            retry_state=None,
        )
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
            error.__cause__ = _decode_failure(attrs.failure)
        elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
            error.__cause__ = TerminatedError("Terminated")  # what the SDK core attaches
        elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
            error.__cause__ = CancelledError("Cancelled")
        cancelled = event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED
        self.on_activity_done(act, failure_info(error), cancelled=cancelled)
        if self.cancel_after_child is not None:
            reason, self.cancel_after_child = self.cancel_after_child, None
            self.note_cancel(reason)

    def on_activity_done(
        self, act: Scheduled, failure: FailureInfo | None, *, cancelled: bool = False
    ) -> None:
        step = self.steps.get(act.context.step)
        if step is None:
            return
        if act.context.kind == "probe":
            self.on_probe_done(step, act, failure)
            return
        if act.context.kind == "action":
            step.status = (
                StepStatus.COMPLETED
                if failure is None
                else StepStatus.CANCELLED
                if cancelled
                else StepStatus.FAILED
            )
            step.closed_at = self.now
            step.failure = failure
            step.result = act.result
            kind = SagaEventKind.STEP_FAILED if failure else SagaEventKind.STEP_COMPLETED
        else:
            step.comp_status = (
                CompensationStatus.FAILED if failure else CompensationStatus.COMPLETED
            )
            step.comp_failure = failure
            kind = (
                SagaEventKind.COMPENSATION_FAILED
                if failure
                else SagaEventKind.COMPENSATION_COMPLETED
            )
        self.emit(kind, step=step.name, failure=failure)

    def on_probe_done(self, step: RebuiltStep, act: Scheduled, failure: FailureInfo | None) -> None:
        """A probe answered (or failed): the step completes, or needs no undo, as live."""
        if failure is not None or act.result is None:
            self.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=UNKNOWN, failure=failure)
            return
        answer = _payloads.from_payloads(act.result, [ProbeResult])[0]
        if not answer.took_effect:
            self.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=NO_EFFECT)
            if step.registered:
                step.comp_status = CompensationStatus.NOT_NEEDED
            return
        self.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=TOOK_EFFECT)
        step.status, step.failure, step.closed_at = StepStatus.COMPLETED, None, self.now
        step.result = _payloads.to_payloads([answer.result])
        self.emit(SagaEventKind.STEP_COMPLETED, step=step.name)

    def on_cancel(self, event: HistoryEvent) -> None:
        """A cancel request: a running forward step fails as cancelled first.

        A running child saga is cancelled in its own workflow, and the saga notes the
        cancel only once the child has closed, right after its step failed.
        """
        reason = event.workflow_execution_cancel_requested_event_attributes.cause
        for step in self.steps.values():
            if step.status is not StepStatus.SCHEDULED or step.context.after_pivot:
                continue
            if step.kind == "child_saga":
                self.cancel_after_child = reason
                return
            if step.kind == "activity":
                step.status = StepStatus.CANCELLED
                step.closed_at = self.now
                step.failure = FailureInfo(
                    type="ActivityError",
                    message="Activity cancelled",
                    causes=("CancelledError: Cancelled",),
                )
                self.emit(SagaEventKind.STEP_FAILED, step=step.name, failure=step.failure)
        self.note_cancel(reason)

    def note_cancel(self, reason: str) -> None:
        if not self.cancel_requested:
            self.cancel_requested = True
            self.emit(SagaEventKind.CANCEL_REQUESTED, detail=reason)

    def note_abort(self, failure: Failure) -> None:
        compensated = failure.application_failure_info.type == SAGA_COMPENSATED
        if self.failure is None and compensated and failure.HasField("cause"):
            self.failure = failure_info(_decode_failure(failure.cause))

    def on_workflow_closed(self, event: HistoryEvent) -> None:
        """The workflow closed: close the saga too, if no status upsert already did.

        A saga with ``search_attributes=False`` records no final status; the engine
        closes it in the workflow task that completes the workflow, so the close
        event tells which status it was.

        An abort left no event of its own: the closing ``SagaCompensated`` failure's
        cause is the only place the history keeps it, so the saga's failure is read there
        when no step's failure explains the compensation.
        """
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            self.note_abort(event.workflow_execution_failed_event_attributes.failure)
        if self.status.is_terminal or self.started_at is None:
            return
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            self.change_status(SagaStatus.COMPLETED)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            self.change_status(SagaStatus.CANCELLED)
        else:
            failure = event.workflow_execution_failed_event_attributes.failure
            compensated = failure.application_failure_info.type == SAGA_COMPENSATED
            self.change_status(SagaStatus.COMPENSATED if compensated else SagaStatus.FAILED)

    # -- commands: schedules, status changes, operator decisions -----------------------

    def on_scheduled(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        payload = attrs.header.fields.get(STEP_HEADER)
        if payload is None:
            return
        context = _payloads.from_payloads([payload], [StepContext])[0]
        self.name = context.saga
        self.key = context.saga_key
        self.policy = context.policy
        act = Scheduled(
            context=context,
            activity_type=attrs.activity_type.name,
            activity_id=attrs.activity_id,
            input=list(attrs.input.payloads),
        )
        self.activities[event.event_id] = act
        if context.kind == "action":
            self.on_action_scheduled(act)
        elif context.kind == "compensation":
            self.on_compensation_scheduled(act)
        # A probe shows in the timeline when it answers (`on_probe_done`).

    def on_child_initiated(self, event: HistoryEvent) -> None:
        attrs = event.start_child_workflow_execution_initiated_event_attributes
        payload = attrs.header.fields.get(STEP_HEADER)
        if payload is None:
            return  # a child workflow started outside `Saga.child`
        act = Scheduled(
            context=_payloads.from_payloads([payload], [StepContext])[0],
            activity_type=attrs.workflow_type.name,
            activity_id=attrs.workflow_id,
            input=list(attrs.input.payloads),
            kind="child_saga",
        )
        self.activities[event.event_id] = act
        self.on_action_scheduled(act)

    def on_action_scheduled(self, act: Scheduled) -> None:
        assert self.now is not None
        step = self.steps.get(act.context.step)
        detail = None
        if step is None:
            step = RebuiltStep(
                name=act.context.step,
                context=act.context,
                activity=act.activity_type,
                scheduled_at=self.now,
                input=act.input,
                kind=act.kind,
                activity_id=act.activity_id if act.kind == "child_saga" else None,
            )
            self.steps[step.name] = step
        else:
            step.status, step.failure = StepStatus.SCHEDULED, None
            detail = f"round {round_of(act.activity_id)}"
        self.emit(SagaEventKind.STEP_SCHEDULED, step=step.name, detail=detail)

    def on_compensation_scheduled(self, act: Scheduled) -> None:
        step = self.steps.get(act.context.step)
        if step is None and act.context.adopted_action is not None:
            step = self.adopt(act)
        if step is None:
            return
        if self.status is SagaStatus.RUNNING:
            # A saga without search attributes upserts no COMPENSATING; the engine
            # sets it right before it schedules the first compensation.
            self.change_status(SagaStatus.COMPENSATING)
        step.comp_rounds += 1
        step.comp_status = CompensationStatus.SCHEDULED
        step.comp_failure = None
        self.emit(SagaEventKind.COMPENSATION_SCHEDULED, step=step.name)

    def adopt(self, act: Scheduled) -> RebuiltStep:
        """A rescue's step: its action ran in the rescued saga, as its header says."""
        assert self.started_at is not None  # a compensation runs after the saga started
        context = act.context
        step = RebuiltStep(
            name=context.step,
            context=context,
            activity=context.adopted_action or "",
            # The rescue adopts every step when it starts, before it undoes any.
            scheduled_at=self.started_at,
            status=context.adopted_status or StepStatus.COMPLETED,
        )
        self.steps[step.name] = step
        return step

    def on_attributes(self, fields: dict[str, Payload]) -> None:
        if SAGA_NAME.name in fields and self.name is None:
            self.name = str(_payloads.from_payloads([fields[SAGA_NAME.name]])[0])
        if SAGA_STATUS.name not in fields:
            return
        value = _payloads.from_payloads([fields[SAGA_STATUS.name]])[0]
        self.change_status(SagaStatus(str(value)))

    def change_status(self, status: SagaStatus) -> None:
        """Move to ``status`` (a no-op when already there), with the events it implies."""
        previous, self.status = self.status, status
        if status is previous:
            return
        if previous is SagaStatus.RUNNING and status is not SagaStatus.COMPLETED:
            self.failure = self.failure or self.last_step_failure()
        if status is SagaStatus.NEEDS_ATTENTION:
            self.parked = self.parked_steps(previous)
            self.emit(SagaEventKind.SAGA_PARKED, detail=", ".join(self.parked))
        elif previous is SagaStatus.NEEDS_ATTENTION:
            self.parked = []
        if status is SagaStatus.COMPLETED:
            for step in self.steps.values():
                if step.comp_status is CompensationStatus.REGISTERED:
                    step.comp_status = CompensationStatus.NOT_NEEDED
        if status.is_terminal:
            self.closed_at = self.now
            self.emit(SagaEventKind.SAGA_CLOSED, detail=status.value)

    def on_update_completed(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_update_completed_event_attributes
        action_name = OPERATOR_UPDATES.get(self.updates.get(attrs.meta.update_id, ""))
        if action_name is None or not attrs.outcome.HasField("success"):
            return
        action = _payloads.from_payloads(list(attrs.outcome.success.payloads), [OperatorAction])[0]
        identity = self.update_identities.get(attrs.meta.update_id)
        if action.authenticated is not None and action.identity is None and identity:
            # A caller that did not report its identity in the request (the plain
            # `temporal` CLI): the server recorded it with the accepted update.
            action = action.model_copy(update={"identity": identity})
        self.operator_actions.append(action)
        self.emit(SagaEventKind.OPERATOR_ACTION, step=action.step, detail=action.audit_detail())
        self.apply_decision(action)

    def apply_decision(self, action: OperatorAction) -> None:
        """Mirror what the compensator does with a skip or resolve."""
        if action.action == "retry":
            return
        for step in self.steps.values():
            if not step.registered:
                continue
            if action.action == "skip" and step.comp_status is CompensationStatus.FAILED:
                if action.step in (None, step.name):
                    step.comp_status = CompensationStatus.SKIPPED
                    step.comp_reason = action.reason
            elif action.action == "resolve" and step.comp_status in (
                CompensationStatus.FAILED,
                CompensationStatus.REGISTERED,
            ):
                step.comp_status = CompensationStatus.RESOLVED
                step.comp_reason = action.reason

    # -- helpers -----------------------------------------------------------------------

    def parked_steps(self, previous: SagaStatus) -> list[str]:
        ordered = list(self.steps.values())
        if previous is SagaStatus.COMPENSATING:
            return [
                s.name
                for s in reversed(ordered)
                if s.registered and s.comp_status is CompensationStatus.FAILED
            ]
        return [s.name for s in ordered if s.status is StepStatus.FAILED][-1:]

    def last_step_failure(self) -> FailureInfo | None:
        failed = [s for s in self.steps.values() if s.failure is not None]
        return failed[-1].failure if failed else None

    def emit(
        self,
        kind: SagaEventKind,
        *,
        step: str | None = None,
        detail: str | None = None,
        failure: FailureInfo | None = None,
    ) -> None:
        assert self.now is not None
        self.timeline.append(
            SagaEvent(
                kind=kind,
                event_id=event_id(self.run_id, self.task_id, self.task_index),
                at=self.now,
                step=step,
                status=self.status,
                detail=detail,
                failure=failure,
            )
        )
        self.task_index += 1

    def view(self) -> SagaHistoryView:
        workflow_id = self.history.workflow_id
        key = self.key or workflow_id
        timeline = [
            e.model_copy(update={"detail": f"key={key}"})
            if e.kind is SagaEventKind.SAGA_STARTED
            else e
            for e in self.timeline
        ]
        if self.started_at is None:
            raise SagaHistoryError(
                f"history of {workflow_id!r} has no completed workflow task, so no saga ran "
                "yet: wait for a worker to pick it up, or check the workflow id"
            )
        state = SagaState(
            name=self.name or _no_name(workflow_id),
            key=key,
            workflow_id=workflow_id,
            run_id=self.run_id,
            status=self.status,
            policy=self.policy,
            steps=tuple(s.record() for s in self.steps.values()),
            parked_steps=tuple(self.parked),
            operator_actions=tuple(self.operator_actions),
            failure=self.failure,
            cancel_requested=self.cancel_requested,
            pivot_passed=any(
                s.context.pivot and s.status is StepStatus.COMPLETED for s in self.steps.values()
            ),
            timeline=tuple(timeline),
            started_at=self.started_at,
            closed_at=self.closed_at,
        )
        inputs = {name: [_json(p) for p in s.input] for name, s in self.steps.items()}
        results = {name: _json(s.result[0]) for name, s in self.steps.items() if s.result}
        return SagaHistoryView(
            state=state,
            inputs=inputs,
            results=results,
            correlation_id=self.correlation_id or workflow_id,
            probes={s.name: s.context.probe for s in self.steps.values() if s.context.probe},
        )


def _no_name(workflow_id: str) -> str:
    raise SagaHistoryError(
        f"workflow {workflow_id!r} does not look like a saga: its history has no saga step "
        "header and no SagaName search attribute"
    )


def _json(payload: Payload) -> Any:
    try:
        return _payloads.from_payloads([payload])[0]
    except Exception:  # an encoding we cannot read: show it, do not fail the view
        return f"<{payload.metadata.get('encoding', b'?').decode(errors='replace')} payload>"


def _decode_failure(failure: Failure) -> BaseException:
    error = _converter.failure_converter.from_failure(failure, _payloads)
    return error


def rebuild(history: WorkflowHistory) -> SagaHistoryView:
    """Rebuild a saga from its history: the `SagaState` plus decoded step payloads.

    Args:
        history: A fetched history (``handle.fetch_history()``) or one loaded from a
            JSON export (`load_history`).

    Raises:
        SagaHistoryError: The history is not a saga's, or is empty.
    """
    return _Rebuilder(history).run()


def saga_state_from_history(history: WorkflowHistory) -> SagaState:
    """Return the `SagaState` the ``saga_state`` query would answer for this history.

    Raises:
        SagaHistoryError: The history is not a saga's, or is empty.
    """
    return rebuild(history).state
