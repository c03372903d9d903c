"""`SagaRescue`: the compensations a saga could not run itself, run in a workflow of their own.

A saga that is terminated, or hits its workflow execution timeout, closes without
running its compensations: no code of its own runs after that. `sagas rescue` rebuilds
what it had registered and not yet undone from its history (`temporal_sagas.history`)
and starts this workflow with that plan, under a workflow id derived from the saga's
(`temporal_sagas._contract.rescue_workflow_id`), on the saga's own task queue.

The rescue is a saga too, with the original saga's name and key: each adopted step's
compensation gets the activity id and idempotency key the original compensation would
have had, runs newest first under the saga's policy, and parks in NEEDS_ATTENTION when
one fails for good, like any saga. Adopted steps are never run forward.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

from temporal_sagas._contract import (
    RESCUE_WORKFLOW,
    compensation_key,
    step_key,
)
from temporal_sagas._models import CompensationPolicy, SagaState, StepStatus
from temporal_sagas.workflows._records import Compensation, Step
from temporal_sagas.workflows._saga import Saga


class RescuedStep(BaseModel):
    """A step of the original saga whose compensation is still due.

    Attributes:
        step: The step's name, as the saga named it (loop index included).
        action: The action's activity name.
        action_status: What became of the action (an action in flight counts as done).
        compensation: The compensation's activity name.
        input: The action's arguments, decoded as JSON; the compensation gets them.
        result: The action's result, when one was recorded.
        has_result: Whether a result was recorded.
        pass_result: Whether the compensation takes the result after the input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    action: str
    action_status: StepStatus
    compensation: str
    input: list[Any] = Field(default_factory=list)
    result: Any = None
    has_result: bool = False
    pass_result: bool = True


class SagaRun(BaseModel):
    """One run of a saga, as a plan built from its history names it.

    Attributes:
        workflow_id: The saga's workflow id.
        run_id: The run.
        saga: The saga's name.
        saga_key: The saga's business key (its idempotency keys derive from it).
        policy: The saga's compensation policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow_id: str
    run_id: str
    saga: str
    saga_key: str
    policy: CompensationPolicy = CompensationPolicy.SEQUENTIAL

    @classmethod
    def of(cls, state: SagaState) -> dict[str, Any]:
        """The fields naming the run of ``state``, for a plan's constructor."""
        return {
            "workflow_id": state.workflow_id,
            "run_id": state.run_id,
            "saga": state.name,
            "saga_key": state.key,
            "policy": state.policy,
        }


class RescuePlan(SagaRun):
    """What a rescue runs: the original saga's run and its due compensations.

    Attributes:
        closed_as: How the run closed: ``TERMINATED`` or ``TIMED_OUT``.
        steps: The steps whose compensation is due, oldest first.
    """

    closed_as: Literal["TERMINATED", "TIMED_OUT"]
    steps: tuple[RescuedStep, ...]


@workflow.defn(name=RESCUE_WORKFLOW)
class SagaRescue:
    """Runs a terminated or timed-out saga's remaining compensations, newest first."""

    @workflow.run
    async def run(self, plan: RescuePlan) -> None:
        """Adopt the plan's steps as done, then compensate them as the saga would have.

        Like any saga that compensated, the rescue then closes FAILED with
        ``SagaCompensated`` (its ``saga_state`` query and `sagas show` tell what was
        undone); a compensation that fails for good parks it first.
        """
        saga = Saga(plan.saga, key=plan.saga_key, policy=plan.policy, park_on_failure=True)
        async with saga:
            for planned in plan.steps:
                _adopt(saga, planned)
            saga.abort(
                f"rescue of {plan.workflow_id} run {plan.run_id}, which closed "
                f"{plan.closed_as} with {len(plan.steps)} compensation(s) due"
            )


def _adopt(saga: Saga, planned: RescuedStep) -> None:
    """Put ``planned`` in the saga's ledger as a step whose action already happened."""
    rt = saga._runtime()  # the rescue is the engine's own; it may reach inside
    key = step_key(saga.name, rt.ledger.key, planned.step)
    step = Step(
        name=planned.step,
        activity_name=planned.action,
        kind="activity",
        idempotency_key=key,
        activity_id=key,
        scheduled_at=rt.now(),
        status=planned.action_status,
        result=planned.result,
        has_result=planned.has_result,
        adopted=True,
    )
    step.compensation = Compensation(
        activity=planned.compensation,
        activity_name=planned.compensation,
        args=list(planned.input),
        pass_result=planned.pass_result,
        idempotency_key=compensation_key(key),
        activity_id=compensation_key(key),
        local=False,
    )
    rt.ledger.steps.append(step)
