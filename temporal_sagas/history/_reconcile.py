"""What to ask a finished saga's probes, and what its record expects them to answer (pure)."""

from __future__ import annotations

from temporalio.client import WorkflowHistory

from temporal_sagas._models import CompensationStatus, StepStatus
from temporal_sagas.history._rebuild import rebuild
from temporal_sagas.workflows._reconcile import ProbeCheck, ReconcilePlan

#: A compensation an operator skipped or resolved by hand: the record cannot say.
_DECIDED = frozenset({CompensationStatus.SKIPPED, CompensationStatus.RESOLVED})


def reconcile_plan(history: WorkflowHistory) -> ReconcilePlan | None:
    """The probe questions for this run's steps that name a probe; None when there are none.

    A step whose action completed and was not undone should have its effect present;
    one whose compensation completed should not. Steps whose action failed, or whose
    undo an operator skipped or resolved, say nothing certain and are not asked.

    Raises:
        SagaHistoryError: The history is not a saga's.
    """
    view = rebuild(history)
    state = view.state
    checks = []
    for step in state.steps:
        probe = view.probes.get(step.name)
        comp = step.compensation
        if probe is None or step.status is not StepStatus.COMPLETED:
            continue
        if comp is not None and comp.status in _DECIDED:
            continue
        undone = comp is not None and comp.status is CompensationStatus.COMPLETED
        checks.append(
            ProbeCheck(
                step=step.name,
                probe=probe,
                input=view.inputs.get(step.name, []),
                expect_effect=not undone,
            )
        )
    if not checks:
        return None
    return ReconcilePlan(**ReconcilePlan.of(state), checks=tuple(checks))
