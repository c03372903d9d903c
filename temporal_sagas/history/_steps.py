"""What the history rebuild tracks per step, and which history events it reads as what.

`temporal_sagas.history._rebuild` drives these while it walks a history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from temporal_sagas._contract import compensation_key
from temporal_sagas._models import (
    CompensationRecord,
    CompensationStatus,
    FailureInfo,
    StepContext,
    StepRecord,
    StepStatus,
)

#: How a child saga's run can end, and the message the SDK gives its ChildWorkflowError.
CHILD_OUTCOMES = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: "",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: "Child Workflow execution failed",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: "Child Workflow execution cancelled",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: "Child Workflow execution timed out",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: "Child Workflow execution terminated",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: "Child Workflow start failed",
}
#: Events that are inputs to the next workflow task: the saga reacts to them there.
INPUT_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
        *CHILD_OUTCOMES,
    }
)
#: Events that close the workflow.
CLOSE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    }
)


@dataclass
class Scheduled:
    """One activity or child saga the saga scheduled, as found in the history."""

    context: StepContext
    activity_type: str
    activity_id: str
    input: list[Payload]
    result: list[Payload] | None = None
    kind: Literal["activity", "child_saga"] = "activity"


@dataclass
class RebuiltStep:
    """One step as the history shows it so far; `record` gives its `StepRecord`."""

    name: str
    context: StepContext
    activity: str
    scheduled_at: datetime
    status: StepStatus = StepStatus.SCHEDULED
    closed_at: datetime | None = None
    failure: FailureInfo | None = None
    comp_status: CompensationStatus = CompensationStatus.REGISTERED
    comp_rounds: int = 0
    comp_failure: FailureInfo | None = None
    comp_reason: str | None = None
    input: list[Payload] = field(default_factory=list)
    result: list[Payload] | None = None
    kind: Literal["activity", "child_saga"] = "activity"
    activity_id: str | None = None  # a child saga's workflow id; an activity's is its key

    @property
    def registered(self) -> bool:
        """Whether a compensation counts as registered for this step."""
        if self.context.compensation is None:
            return False
        return self.context.compensate_on == "attempt" or self.status is StepStatus.COMPLETED

    def record(self) -> StepRecord:
        """The step as the ``saga_state`` query would report it."""
        key = self.context.step_key
        compensation = None
        if self.registered:
            compensation = CompensationRecord(
                activity=self.context.compensation or "",
                status=self.comp_status,
                idempotency_key=compensation_key(key),
                activity_id=compensation_key(key),
                rounds=self.comp_rounds,
                failure=self.comp_failure,
                reason=self.comp_reason,
            )
        return StepRecord(
            name=self.name,
            activity=self.activity,
            kind=self.kind,
            status=self.status,
            idempotency_key=key,
            activity_id=self.activity_id or key,
            pivot=self.context.pivot,
            after_pivot=self.context.after_pivot,
            scheduled_at=self.scheduled_at,
            closed_at=self.closed_at,
            failure=self.failure,
            compensation=compensation,
        )


def outcome_attributes(event: HistoryEvent) -> Any:
    """The attributes of a child-outcome event (each kind has its own field)."""
    field_name = event.WhichOneof("attributes")
    assert field_name is not None
    return getattr(event, field_name)
