"""The rescue plan of a saga that closed with compensations due (pure: history in, plan out).

A run that was terminated or timed out while RUNNING or COMPENSATING (or parked) never
ran the compensations it had registered and not yet undone. `rescue_plan` rebuilds them
from the history alone: each step's action name and status, the action's arguments and
result as the compensation would have received them, oldest first, as `SagaRescue`
adopts them. A run that closed any other way, or got past its pivot, has no plan.
"""

from __future__ import annotations

from typing import Literal

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from temporal_sagas._contract import first_round_id
from temporal_sagas.history._plan import compensation_plan
from temporal_sagas.history._rebuild import rebuild
from temporal_sagas.workflows._rescue import RescuedStep, RescuePlan

_CLOSES: dict[int, Literal["TERMINATED", "TIMED_OUT"]] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
}


def closed_as(history: WorkflowHistory) -> Literal["TERMINATED", "TIMED_OUT"] | None:
    """``TERMINATED`` or ``TIMED_OUT`` when the run closed that way, else None."""
    events = list(history.events)
    return _CLOSES.get(events[-1].event_type) if events else None


def rescue_plan(history: WorkflowHistory) -> RescuePlan | None:
    """The compensations a rescue must run for this run, or None when none are due.

    Raises:
        SagaHistoryError: The history is not a saga's.
    """
    how = closed_as(history)
    if how is None:
        return None
    view = rebuild(history)
    due = list(reversed(compensation_plan(view)))  # the plan runs newest first
    if not due:
        return None
    state = view.state
    inputs = _compensation_arity(history)
    steps = []
    for planned in due:
        record = state.step(planned.step)
        arity = inputs.get(planned.idempotency_key)
        steps.append(
            RescuedStep(
                step=planned.step,
                action=record.activity,
                action_status=record.status,
                compensation=planned.activity,
                input=planned.input,
                result=planned.action_result,
                has_result=planned.step in view.results,
                pass_result=True if arity is None else arity > len(planned.input),
            )
        )
    return RescuePlan(**RescuePlan.of(state), closed_as=how, steps=tuple(steps))


def _compensation_arity(history: WorkflowHistory) -> dict[str, int]:
    """Per compensation activity id scheduled in the run, how many arguments it got.

    Tells whether a compensation takes the action's result; one never scheduled is
    assumed to (the contract gives it the result when one was recorded, else None).
    """
    found: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            found[first_round_id(attrs.activity_id)] = len(attrs.input.payloads)
    return found
