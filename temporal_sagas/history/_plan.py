"""The compensations a saga would run if it failed now, newest first."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from temporal_sagas._contract import COMPENSATION_DONE
from temporal_sagas._models import StepStatus, _Frozen
from temporal_sagas.history._rebuild import SagaHistoryView


class PlannedCompensation(_Frozen):
    """One compensation that would run, with what it would receive."""

    step: str
    activity: str
    idempotency_key: str
    input: list[Any] = Field(description="The action's arguments, decoded as JSON.")
    action_result: Any = Field(None, description="The action's result, when recorded.")
    action_status: StepStatus


def compensation_plan(view: SagaHistoryView) -> list[PlannedCompensation]:
    """Return the compensations due if the saga failed now, in the order they would run.

    A closed saga has no plan, nor has one past its pivot: from there it only goes
    forward.
    """
    state = view.state
    if state.status.is_terminal or state.pivot_passed:
        return []
    plan = []
    for step in reversed(state.steps):
        comp = step.compensation
        if comp is None or comp.status in COMPENSATION_DONE:
            continue
        plan.append(
            PlannedCompensation(
                step=step.name,
                activity=comp.activity,
                idempotency_key=comp.idempotency_key,
                input=view.inputs.get(step.name, []),
                action_result=view.results.get(step.name),
                action_status=step.status,
            )
        )
    return plan
