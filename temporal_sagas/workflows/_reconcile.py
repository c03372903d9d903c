"""`SagaReconcile`: ask a finished saga's probes whether the real systems agree with it.

The saga's record says which steps took effect and which were undone; its probes say
what the systems hold now. `sagas reconcile` plans the questions from the history
(`temporal_sagas.history.reconcile_plan`) and runs them in this workflow on the saga's
task queue, where the probe activities are registered: each probe runs with the step's
header and the action's idempotency key, exactly as it would inside the saga.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from temporal_sagas._context import encode_step_header, outgoing_step
from temporal_sagas._contract import RECONCILE_WORKFLOW, probe_activity_id, step_key
from temporal_sagas._models import ProbeResult
from temporal_sagas.workflows._rescue import SagaRun


class ProbeCheck(BaseModel):
    """One question for one step's probe, and the answer the saga's record expects.

    Attributes:
        step: The step's name.
        probe: The probe activity's name.
        input: The action's arguments, decoded as JSON.
        expect_effect: The record says the effect is there (the step completed and
            was not compensated) or not (its compensation completed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    probe: str
    input: list[Any] = Field(default_factory=list)
    expect_effect: bool


class ReconcilePlan(SagaRun):
    """The questions for one saga run."""

    checks: tuple[ProbeCheck, ...]


class ProbeAnswer(BaseModel):
    """What one probe answered: the effect's presence, or why it could not tell."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    took_effect: bool | None
    error: str | None = None


#: Probes read; they are retried briefly, and a probe that keeps failing is reported.
_PROBE_TIMEOUT = timedelta(seconds=30)
_PROBE_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=200))


@workflow.defn(name=RECONCILE_WORKFLOW)
class SagaReconcile:
    """Runs the probes of one saga run and returns their answers, in plan order."""

    @workflow.run
    async def run(self, plan: ReconcilePlan) -> list[ProbeAnswer]:
        """Ask each probe; a probe that fails is an answer too (``took_effect`` None)."""
        return [await _ask(plan, check) for check in plan.checks]


async def _ask(plan: ReconcilePlan, check: ProbeCheck) -> ProbeAnswer:
    key = step_key(plan.saga, plan.saga_key, check.step)
    header = encode_step_header(
        saga=plan.saga,
        saga_key=plan.saga_key,
        step=check.step,
        kind="probe",
        workflow_id=plan.workflow_id,
        policy=plan.policy,
        pivot=False,
        after_pivot=False,
        compensation=None,
        compensate_on="attempt",
        probe=check.probe,
    )
    token = outgoing_step.set(header)
    try:
        started = workflow.start_activity(
            check.probe,
            args=check.input,
            activity_id=probe_activity_id(key),
            result_type=ProbeResult,
            start_to_close_timeout=_PROBE_TIMEOUT,
            retry_policy=_PROBE_RETRY,
        )
    finally:
        outgoing_step.reset(token)
    try:
        answer: ProbeResult = await started
    except ActivityError as err:
        return ProbeAnswer(step=check.step, took_effect=None, error=str(err.cause or err))
    return ProbeAnswer(step=check.step, took_effect=answer.took_effect)
