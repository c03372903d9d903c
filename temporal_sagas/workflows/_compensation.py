"""Running the registered compensations, newest first, under a `CompensationPolicy`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio.exceptions import ActivityError, ApplicationError

from temporal_sagas._contract import COMPENSATION_DONE, round_activity_id
from temporal_sagas._models import (
    CompensationPolicy,
    CompensationReport,
    CompensationStatus,
    SagaEventKind,
    SagaStatus,
)
from temporal_sagas.workflows._operator import Action, Decision, OperatorDesk
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._records import Step, failure_info
from temporal_sagas.workflows._runtime import SagaRuntime

_ALL_ACTIONS: frozenset[Action] = frozenset({"retry", "skip", "resolve"})


@dataclass(frozen=True)
class CompensationOutcome:
    """What compensation achieved; failures remain only when the saga does not park."""

    report: CompensationReport

    @property
    def clean(self) -> bool:
        """True when nothing is left failed or unattempted."""
        return not (self.report.failed or self.report.not_run)


class Compensator:
    """Runs every due compensation of a saga to its end, parking when one fails for good."""

    __slots__ = ("_desk", "_options", "_park", "_rt")

    def __init__(
        self,
        runtime: SagaRuntime,
        desk: OperatorDesk,
        *,
        options: StepOptions,
        park_on_failure: bool,
    ) -> None:
        self._rt = runtime
        self._desk = desk
        self._options = options
        self._park = park_on_failure

    async def run(self, failed_step: str | None) -> CompensationOutcome:
        """Compensate every registered step, newest first, under the saga's policy."""
        self._rt.set_status(SagaStatus.COMPENSATING)
        due = [s for s in reversed(self._rt.ledger.registered()) if _is_due(s)]
        policy = self._rt.ledger.policy
        if policy is CompensationPolicy.SEQUENTIAL:
            await self._sequential(due)
        else:
            if policy is CompensationPolicy.PARALLEL:
                await asyncio.gather(*(self._run_one(s) for s in due))
            else:
                for step in due:
                    await self._run_one(step)
            await self._settle(due)
        return CompensationOutcome(report=self._report(failed_step))

    async def _sequential(self, due: list[Step]) -> None:
        for index, step in enumerate(due):
            while not await self._run_one(step):
                if not self._park:
                    return
                decision = await self._decide([step.name])
                if decision.action == "retry":
                    continue
                if decision.action == "resolve":
                    self._resolve(due[index:], decision)
                    return
                self._mark(step, CompensationStatus.SKIPPED, decision)
                break

    async def _settle(self, due: list[Step]) -> None:
        """After every compensation was attempted, let an operator settle the failures."""
        while self._park and (failed := [s for s in due if _failed(s)]):
            decision = await self._decide([s.name for s in failed])
            if decision.action == "resolve":
                self._resolve(failed, decision)
                return
            chosen = [s for s in failed if decision.step in (None, s.name)]
            if decision.action == "skip":
                for step in chosen:
                    self._mark(step, CompensationStatus.SKIPPED, decision)
            elif self._rt.ledger.policy is CompensationPolicy.PARALLEL:
                await asyncio.gather(*(self._run_one(s) for s in chosen))
            else:
                for step in chosen:
                    await self._run_one(step)

    async def _decide(self, steps: list[str]) -> Decision:
        return await self._desk.park(steps, resume=SagaStatus.COMPENSATING, allowed=_ALL_ACTIONS)

    async def _run_one(self, step: Step) -> bool:
        """Schedule one compensation and wait for it; False when it failed for good."""
        comp = step.compensation
        assert comp is not None  # only registered steps are due
        comp.rounds += 1
        comp.status = CompensationStatus.SCHEDULED
        comp.failure = None
        activity_id = round_activity_id(comp.activity_id, comp.rounds)
        self._rt.emit(SagaEventKind.COMPENSATION_SCHEDULED, step=step.name)
        args = list(comp.args)
        if comp.pass_result:
            args.append(step.result if step.has_result else None)
        try:
            await self._rt.start_activity(
                comp.activity,
                args,
                header=self._rt.header_for(step, "compensation"),
                activity_id=activity_id,
                options=self._options if comp.options is None else comp.options,
                local=comp.local,
                result_type=None,
            )
        except (ActivityError, ApplicationError) as err:
            # A local activity's own failure reaches the workflow unwrapped (its
            # timeouts and cancels still come as ActivityError).
            comp.status = CompensationStatus.FAILED
            comp.failure = failure_info(err)
            self._rt.emit(SagaEventKind.COMPENSATION_FAILED, step=step.name, failure=comp.failure)
            return False
        comp.status = CompensationStatus.COMPLETED
        self._rt.emit(SagaEventKind.COMPENSATION_COMPLETED, step=step.name)
        return True

    def _mark(self, step: Step, status: CompensationStatus, decision: Decision) -> None:
        assert step.compensation is not None
        step.compensation.status = status
        step.compensation.reason = decision.reason

    def _resolve(self, steps: list[Step], decision: Decision) -> None:
        for step in steps:
            if step.compensation is not None and step.compensation.status not in COMPENSATION_DONE:
                self._mark(step, CompensationStatus.RESOLVED, decision)

    def _report(self, failed_step: str | None) -> CompensationReport:
        ledger = self._rt.ledger
        # Newest first, as they ran; every registered step has its compensation.
        done = [(s.name, s.compensation.status) for s in reversed(ledger.steps) if s.compensation]

        def named(status: CompensationStatus) -> tuple[str, ...]:
            return tuple(name for name, each in done if each is status)

        return CompensationReport(
            saga=ledger.name,
            key=ledger.key,
            failed_step=failed_step,
            compensated=named(CompensationStatus.COMPLETED),
            skipped=named(CompensationStatus.SKIPPED),
            resolved=named(CompensationStatus.RESOLVED),
            failed=named(CompensationStatus.FAILED),
            not_run=named(CompensationStatus.REGISTERED),
        )


def _is_due(step: Step) -> bool:
    return step.compensation is not None and step.compensation.status not in COMPENSATION_DONE


def _failed(step: Step) -> bool:
    return step.compensation is not None and step.compensation.status is CompensationStatus.FAILED
