"""Frozen pydantic models shared by workflows, activities, history and the CLI.

This module is pure: no Temporal calls, no I/O, safe inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from temporal_sagas import _contract as contract


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SagaStatus(StrEnum):
    """Where a saga is in its life; also the value of the ``SagaStatus`` search attribute."""

    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        """Whether the saga has finished (the workflow is closing or closed)."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED, SagaStatus.FAILED}
)


class CompensationPolicy(StrEnum):
    """How the registered compensations run once a saga must be undone.

    Attributes:
        SEQUENTIAL: Newest first, one at a time; the first that fails for good parks
            the saga until an operator decides.
        CONTINUE_ON_ERROR: Newest first, one at a time, every one attempted; the
            failures are reported together.
        PARALLEL: All at once, all awaited; the failures are reported together.
    """

    SEQUENTIAL = "sequential"
    CONTINUE_ON_ERROR = "continue_on_error"
    PARALLEL = "parallel"


class StepStatus(StrEnum):
    """The state of a step's forward action."""

    SCHEDULED = "SCHEDULED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class CompensationStatus(StrEnum):
    """The state of a step's compensation."""

    REGISTERED = "REGISTERED"
    SCHEDULED = "SCHEDULED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    RESOLVED = "RESOLVED"
    NOT_NEEDED = "NOT_NEEDED"


class SagaEventKind(StrEnum):
    """The transitions a saga records in its timeline."""

    SAGA_STARTED = "saga.started"
    STEP_SCHEDULED = "step.scheduled"
    STEP_COMPLETED = "step.completed"
    STEP_FAILED = "step.failed"
    COMPENSATION_SCHEDULED = "compensation.scheduled"
    COMPENSATION_COMPLETED = "compensation.completed"
    COMPENSATION_FAILED = "compensation.failed"
    SAGA_PARKED = "saga.parked"
    OPERATOR_ACTION = "operator.action"
    CANCEL_REQUESTED = "saga.cancel_requested"
    STEP_PROBED = "step.probed"
    SAGA_CLOSED = "saga.closed"


class ProbeResult(_Frozen):
    """What a step's probe answers: did the action take effect, and with what result.

    A probe is an activity the step names (``probe=``); it receives the action's input
    and runs under the action's idempotency key (`current_idempotency_key`), so it can
    look up what the action did in the system it acted on.

    Attributes:
        took_effect: The action's effect is there.
        result: The action's result, as the action would have returned it (when it
            took effect and the result can be told).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    took_effect: bool
    result: Any = None


class FailureInfo(_Frozen):
    """A failure, flattened from a Temporal exception chain."""

    type: str = Field(description="Exception class, or the ApplicationError type.")
    message: str
    causes: tuple[str, ...] = Field(default=(), description="Messages of the cause chain.")


class SagaEvent(_Frozen):
    """One transition of the saga, in the order it happened.

    ``event_id`` is ``<run id>/<WorkflowTaskStarted event id>.<index in that task>``:
    it comes from the history position, so replays and history rebuilds agree on it.
    """

    kind: SagaEventKind
    event_id: str | None = None
    at: datetime
    step: str | None = None
    status: SagaStatus | None = None
    detail: str | None = None
    failure: FailureInfo | None = None


class CompensationRecord(_Frozen):
    """The compensation registered for a step, and what became of it."""

    activity: str
    status: CompensationStatus
    idempotency_key: str
    activity_id: str
    rounds: int = Field(0, description="How many times it was scheduled (operator retries add).")
    failure: FailureInfo | None = None
    reason: str | None = Field(None, description="The operator's reason for a skip or resolve.")


class StepRecord(_Frozen):
    """One step of the saga: its action and its compensation."""

    name: str
    activity: str = Field(description="The activity type, or a child saga's workflow type.")
    kind: Literal["activity", "local_activity", "child_saga"] = "activity"
    status: StepStatus
    idempotency_key: str
    activity_id: str = Field(description="The activity id, or a child saga's workflow id.")
    pivot: bool = False
    after_pivot: bool = False
    scheduled_at: datetime
    closed_at: datetime | None = None
    failure: FailureInfo | None = None
    compensation: CompensationRecord | None = None


class OperatorAction(_Frozen):
    """An operator's decision on a parked saga, as applied."""

    action: Literal["retry", "skip", "resolve"]
    step: str | None
    reason: str | None
    operator: str | None = Field(
        description="The verified operator key id when authenticated; otherwise what the "
        "caller claimed."
    )
    at: datetime
    authenticated: bool | None = Field(
        None,
        description="True: signed with a key the worker trusts. False: a worker without "
        "operator keys (development mode) took it on the caller's word. None: recorded "
        "before operator authentication existed.",
    )
    identity: str | None = Field(
        None, description="The caller's Temporal client identity, as the caller reported it."
    )

    @property
    def operator_label(self) -> str:
        """Who acted, as the audit trail and ``sagas show`` say it."""
        who = self.operator or "unknown operator"
        return who if self.authenticated else f"{who} (unauthenticated)"

    def audit_detail(self) -> str:
        """The detail of this action's ``operator.action`` audit event."""
        # Actions recorded before authentication existed keep their old wording, so
        # that stored histories rebuild to the state they were recorded with.
        who = (
            self.operator or "unknown operator"
            if self.authenticated is None
            else self.operator_label
        )
        via = f" via {self.identity}" if self.identity else ""
        return f"{self.action} by {who}{via}: {self.reason or 'no reason given'}"


class OperatorRequest(_Frozen):
    """The argument of the ``saga_retry``, ``saga_skip`` and ``saga_resolve`` updates.

    Attributes:
        step: The parked step to act on. May be left out when exactly one step is
            parked (and for ``resolve``, which acts on the whole saga).
        reason: Why; required for every action, and kept in the audit trail.
        operator: Who, as the caller claims it: recorded only by a worker without
            operator keys (development mode), marked unauthenticated.
        identity: The caller's Temporal client identity, recorded beside the operator.
        key_id: The operator key that signed the request; recorded as the operator.
        issued_at: When the request was signed (unix seconds).
        nonce: A one-time value; a saga accepts each nonce once.
        signature: Base64 Ed25519 signature of the canonical message
            (`temporal_sagas._operators.canonical_message`).
    """

    step: str | None = None
    reason: str | None = None
    operator: str | None = None
    identity: str | None = None
    key_id: str | None = None
    issued_at: int | None = None
    nonce: str | None = None
    signature: str | None = None

    @property
    def signed(self) -> bool:
        """Whether the request carries a signature (verified or not)."""
        return self.signature is not None


class SagaState(_Frozen):
    """Everything a saga did and is doing: the answer of the ``saga_state`` query."""

    name: str
    key: str
    workflow_id: str
    run_id: str
    status: SagaStatus
    policy: CompensationPolicy
    steps: tuple[StepRecord, ...] = ()
    parked_steps: tuple[str, ...] = Field(
        (), description="Steps waiting for an operator decision while NEEDS_ATTENTION."
    )
    operator_actions: tuple[OperatorAction, ...] = ()
    failure: FailureInfo | None = Field(None, description="What made the saga compensate.")
    cancel_requested: bool = False
    pivot_passed: bool = False
    timeline: tuple[SagaEvent, ...] = ()
    started_at: datetime
    closed_at: datetime | None = None

    def step(self, name: str) -> StepRecord:
        """Return the step called ``name``.

        Raises:
            KeyError: No step has that name.
        """
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"saga {self.name!r} has no step {name!r}; steps: {self.step_names}")

    @property
    def step_names(self) -> list[str]:
        """The names of the steps, in the order they were scheduled."""
        return [s.name for s in self.steps]

    @property
    def compensation_order(self) -> list[str]:
        """Names of the steps whose compensation was scheduled, in the order scheduled."""
        return [
            e.step
            for e in self.timeline
            if e.kind is SagaEventKind.COMPENSATION_SCHEDULED and e.step is not None
        ]


class CompensationReport(_Frozen):
    """The details of a ``SagaCompensated`` or ``SagaCompensationFailed`` failure."""

    saga: str
    key: str
    failed_step: str | None
    compensated: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()


class StepContext(_Frozen):
    """What an activity scheduled by a saga knows about its place in the saga.

    Attributes:
        saga: The saga's name.
        saga_key: The saga's business key.
        step: The step's name (with a loop index where the step repeats).
        kind: ``action`` for the forward step, ``compensation`` for its undo.
        step_key: The idempotency key of the step's action. A compensation receives
            the same value its action had, so it can find what to undo.
        idempotency_key: The key of this very execution: ``step_key`` for an
            action, ``step_key`` + ``/compensate`` for a compensation.
        workflow_id: The saga's workflow id.
        policy: The saga's compensation policy.
        pivot: The step is the saga's pivot.
        after_pivot: The step was scheduled after the pivot succeeded.
        compensation: The name of the compensation activity registered for the step
            (None when it has none).
        compensate_on: When that compensation counts as registered: ``attempt``
            (before the action runs) or ``success`` (once it succeeded).
        probe: The activity that answers whether the action took effect (None when
            the step has none). A probe runs with ``kind`` ``probe`` and the action's
            idempotency key, so it can look up what the action did.
        adopted_action: For a rescue's compensation: the action's activity, which ran
            in the rescued saga, not in this workflow (so the rescue's history alone
            shows what it undoes).
        adopted_status: For a rescue's compensation: what became of that action.
        action_completed: For a compensation: the saga saw its action complete (the
            action's result is recorded in the history). Its idempotency record must
            then exist; a compensation that finds none may not take it for "never
            happened" (see `temporal_sagas.activities.action_record`).

    The fields from ``policy`` on are there so that `temporal_sagas.history` can
    rebuild the whole `SagaState` from the history alone, without extra events.

    ``step_key``, ``idempotency_key`` and ``workflow_id`` may be left out of the
    JSON when they are what the engine derives (``<saga>/<saga_key>/<step>``, that
    plus ``/compensate`` for a compensation, and the saga key): the engine's step
    header leaves them out, since it rides on every activity the saga schedules.
    """

    saga: str
    saga_key: str
    step: str
    kind: Literal["action", "compensation", "probe"]
    step_key: str
    idempotency_key: str
    workflow_id: str
    policy: CompensationPolicy = CompensationPolicy.SEQUENTIAL
    pivot: bool = False
    after_pivot: bool = False
    compensation: str | None = None
    compensate_on: Literal["attempt", "success"] = "attempt"
    probe: str | None = None
    action_completed: bool = False
    adopted_action: str | None = None
    adopted_status: StepStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not {"saga", "saga_key", "step"} <= data.keys():
            return data  # let validation say what is missing
        if {"step_key", "idempotency_key", "workflow_id"} <= data.keys():
            return data
        data = dict(data)
        step_key = data.setdefault(
            "step_key", contract.step_key(data["saga"], data["saga_key"], data["step"])
        )
        data.setdefault("idempotency_key", contract.execution_key(step_key, data.get("kind")))
        data.setdefault("workflow_id", data["saga_key"])
        return data
