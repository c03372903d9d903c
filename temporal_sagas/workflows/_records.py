"""The engine's mutable bookkeeping, and its frozen snapshot (`SagaState`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from temporalio.exceptions import ApplicationError, FailureError

from temporal_sagas._models import (
    CompensationPolicy,
    CompensationRecord,
    CompensationStatus,
    FailureInfo,
    OperatorAction,
    SagaEvent,
    SagaEventKind,
    SagaState,
    SagaStatus,
    StepRecord,
    StepStatus,
)
from temporal_sagas._secrets import mask_card_numbers
from temporal_sagas._unwrapped import plain_isinstance
from temporal_sagas.workflows._options import StepOptions


def failure_info(error: BaseException) -> FailureInfo:
    """Flatten an exception and its cause chain into a `FailureInfo`.

    The result is remembered on the exception, with the cause it was made for: the
    error that fails a step is described again when it fails the saga.
    """
    first_cause = _cause(error)
    known = error.__dict__.get(_MEMO)
    if known is not None and known[0] is first_cause:
        return cast(FailureInfo, known[1])
    causes: list[str] = []
    cause = first_cause
    while cause is not None and len(causes) < 8:
        causes.append(f"{_type_label(cause)}: {_message(cause)}")
        cause = _cause(cause)
    info = FailureInfo(type=_type_label(error), message=_message(error), causes=tuple(causes))
    error.__dict__[_MEMO] = (first_cause, info)
    return info


_MEMO = "_temporal_sagas_failure_info"


def _cause(error: BaseException) -> BaseException | None:
    return error.__cause__ or (error.cause if plain_isinstance(error, FailureError) else None)


def _type_label(error: BaseException) -> str:
    if plain_isinstance(error, ApplicationError) and error.type:
        return error.type
    return type(error).__name__


def _message(error: BaseException) -> str:
    text = error.message if plain_isinstance(error, FailureError) else str(error)
    # A pydantic validation error quotes the input it refused, and any message may quote
    # a card number: the saga's state and audit trail (whose hashes cover this text)
    # keep where and why, never the value.
    if "input_value=" in text:
        text = _ECHOED_INPUT.sub("", text)
    return mask_card_numbers(text)


#: The part of a pydantic validation message that repeats the refused input.
_ECHOED_INPUT = re.compile(r", input_value=.*?, input_type=[\w.]+")


#: A timeline entry: the fields of a `SagaEvent`, in declaration order, the two enums
#: by value. With only strings and a datetime in it, the collector stops tracking the
#: row after its first pass (an enum member would keep it tracked).
TimelineRow = tuple[str, str, datetime, str | None, str, str | None, FailureInfo | None]


def timeline_event(row: TimelineRow) -> SagaEvent:
    """The `SagaEvent` a timeline row stands for."""
    kind, event_id, at, step, status, detail, failure = row
    return SagaEvent(
        kind=SagaEventKind(kind),
        event_id=event_id,
        at=at,
        step=step,
        status=SagaStatus(status),
        detail=detail,
        failure=failure,
    )


@dataclass(slots=True)
class Compensation:
    """A registered compensation: what to call, with what, and what became of it."""

    activity: Any
    activity_name: str
    args: list[Any]
    pass_result: bool
    idempotency_key: str
    activity_id: str
    local: bool
    options: StepOptions | None = None
    status: CompensationStatus = CompensationStatus.REGISTERED
    rounds: int = 0
    failure: FailureInfo | None = None
    reason: str | None = None

    def snapshot(self) -> CompensationRecord:
        """Freeze this compensation for the query."""
        return CompensationRecord(
            activity=self.activity_name,
            status=self.status,
            idempotency_key=self.idempotency_key,
            activity_id=self.activity_id,
            rounds=self.rounds,
            failure=self.failure,
            reason=self.reason,
        )


@dataclass(slots=True)
class Step:
    """One step of a running saga."""

    name: str
    activity_name: str
    kind: Literal["activity", "local_activity", "child_saga"]
    idempotency_key: str
    activity_id: str
    scheduled_at: datetime
    pivot: bool = False
    after_pivot: bool = False
    status: StepStatus = StepStatus.SCHEDULED
    closed_at: datetime | None = None
    failure: FailureInfo | None = None
    result: Any = None
    has_result: bool = False
    compensation: Compensation | None = None
    #: A compensation registered only once the action succeeds (``compensate_on="success"``);
    #: kept so the action's step header can name it for history rebuilds.
    deferred_compensation: Compensation | None = None
    #: The activity asked whether the action took effect when its outcome is unknown.
    probe: Any = None
    probe_name: str | None = None
    #: Adopted by a rescue: the action ran in the rescued saga, not here.
    adopted: bool = False
    #: ApplicationError types of the action that leave its outcome unknown (a timeout
    #: always does).
    ambiguous: tuple[str, ...] = ()

    def snapshot(self) -> StepRecord:
        """Freeze this step for the query."""
        return StepRecord(
            name=self.name,
            activity=self.activity_name,
            kind=self.kind,
            status=self.status,
            idempotency_key=self.idempotency_key,
            activity_id=self.activity_id,
            pivot=self.pivot,
            after_pivot=self.after_pivot,
            scheduled_at=self.scheduled_at,
            closed_at=self.closed_at,
            failure=self.failure,
            compensation=self.compensation.snapshot() if self.compensation else None,
        )


@dataclass(slots=True)
class Ledger:
    """Everything the saga knows about itself, kept in workflow memory."""

    name: str
    key: str
    workflow_id: str
    run_id: str
    policy: CompensationPolicy
    started_at: datetime
    status: SagaStatus = SagaStatus.RUNNING
    steps: list[Step] = field(default_factory=list)
    # Tuples: most sagas never park, and an empty tuple is shared, not one more
    # object per saga for the collector.
    parked: tuple[str, ...] = ()
    operator_actions: tuple[OperatorAction, ...] = ()
    #: Rows, not `SagaEvent` models: a model is three objects for the garbage collector
    #: to walk for as long as the saga is open, and only the query needs the models.
    timeline: list[TimelineRow] = field(default_factory=list)
    failure: FailureInfo | None = None
    cancel_requested: bool = False
    pivot_passed: bool = False
    closed_at: datetime | None = None

    def find(self, name: str) -> Step | None:
        """Return the step called ``name``, if any."""
        # Newest first: the step asked about is nearly always one of the last.
        for step in reversed(self.steps):
            if step.name == name:
                return step
        return None

    def registered(self) -> list[Step]:
        """Steps whose compensation is registered, oldest first."""
        return [s for s in self.steps if s.compensation is not None]

    def snapshot(self) -> SagaState:
        """Freeze the whole ledger as the `SagaState` query answer."""
        return SagaState(
            name=self.name,
            key=self.key,
            workflow_id=self.workflow_id,
            run_id=self.run_id,
            status=self.status,
            policy=self.policy,
            steps=tuple(s.snapshot() for s in self.steps),
            parked_steps=self.parked,
            operator_actions=self.operator_actions,
            failure=self.failure,
            cancel_requested=self.cancel_requested,
            pivot_passed=self.pivot_passed,
            timeline=tuple(map(timeline_event, self.timeline)),
            started_at=self.started_at,
            closed_at=self.closed_at,
        )
