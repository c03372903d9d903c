"""Parking a saga in NEEDS_ATTENTION and taking an operator's decision.

The updates ``saga_retry``, ``saga_skip`` and ``saga_resolve`` are installed when the
saga first parks and validated before they are accepted, so a wrong request (the saga
is not parked, an unknown step, a missing reason) is rejected and leaves no trace in
the history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio import workflow

from temporal_sagas._contract import (
    UPDATE_RESOLVE,
    UPDATE_RETRY,
    UPDATE_SKIP,
    OperatorActionName,
)
from temporal_sagas._errors import OperatorActionRejected
from temporal_sagas._models import OperatorAction, OperatorRequest, SagaEventKind, SagaStatus
from temporal_sagas.workflows._runtime import SagaRuntime

Action = OperatorActionName


@dataclass(frozen=True)
class Decision:
    """An accepted operator decision, as the parked code sees it."""

    action: Action
    step: str | None
    reason: str | None


@dataclass
class _Parking:
    steps: list[str]
    allowed: frozenset[Action]


class OperatorDesk:
    """Holds the saga while it is parked and hands it the operator's decision."""

    # Slotted: one object fewer per saga for the collector to walk while it is open.
    __slots__ = ("_decisions", "_open", "_parking", "_rt")

    def __init__(self, runtime: SagaRuntime) -> None:
        self._rt = runtime
        self._parking: _Parking | None = None
        self._decisions: list[Decision] = []
        self._open = False

    def _open_desk(self) -> None:
        """Install the three operator updates, the first time the saga parks.

        Most sagas never park, and installing a handler costs every run a signature
        inspection; before its first parking a saga rejects operator updates as
        unknown, which `operator_action` reports as "not waiting for an operator".
        """
        if self._open:
            return
        self._open = True
        actions: tuple[tuple[str, Action], ...] = (
            (UPDATE_RETRY, "retry"),
            (UPDATE_SKIP, "skip"),
            (UPDATE_RESOLVE, "resolve"),
        )
        for name, action in actions:
            workflow.set_update_handler(
                name, self._handler(action), validator=self._validator(action)
            )

    async def park(
        self, steps: list[str], *, resume: SagaStatus, allowed: frozenset[Action]
    ) -> Decision:
        """Park on ``steps`` until an operator decides, then resume with ``resume``.

        Args:
            steps: The steps whose failure needs a decision.
            resume: The status to go back to once a decision arrives.
            allowed: The actions that make sense for these steps.
        """
        ledger = self._rt.ledger
        self._open_desk()
        self._parking = _Parking(steps=list(steps), allowed=allowed)
        ledger.parked = tuple(steps)
        self._rt.set_status(SagaStatus.NEEDS_ATTENTION)
        self._rt.emit(SagaEventKind.SAGA_PARKED, detail=", ".join(steps))
        await workflow.wait_condition(lambda: bool(self._decisions))
        decision = self._decisions.pop(0)
        self._parking = None
        ledger.parked = ()
        self._rt.set_status(resume)
        return decision

    # -- update plumbing -------------------------------------------------------------------

    def _validator(self, action: Action) -> Callable[[OperatorRequest], None]:
        def validate(request: OperatorRequest) -> None:
            self._check(action, request)

        return validate

    def _handler(self, action: Action) -> Callable[[OperatorRequest], Awaitable[OperatorAction]]:
        async def handle(request: OperatorRequest) -> OperatorAction:
            step = self._target(action, request)
            record = OperatorAction(
                action=action,
                step=step,
                reason=request.reason,
                operator=request.operator,
                at=workflow.now(),
            )
            self._rt.ledger.operator_actions += (record,)
            self._rt.emit(
                SagaEventKind.OPERATOR_ACTION,
                step=step,
                detail=f"{action} by {request.operator or 'unknown operator'}: "
                f"{request.reason or 'no reason given'}",
            )
            self._decisions.append(Decision(action=action, step=step, reason=request.reason))
            return record

        return handle

    def _check(self, action: Action, request: OperatorRequest) -> None:
        parking = self._parking
        ledger = self._rt.ledger
        if parking is None or self._decisions:
            raise OperatorActionRejected(
                f"saga {ledger.workflow_id!r} is {ledger.status.value}, not waiting for an "
                f"operator: {action} applies only to a saga in NEEDS_ATTENTION"
            )
        if action not in parking.allowed:
            raise OperatorActionRejected(
                f"{action} is not allowed for {', '.join(parking.steps)} in saga "
                f"{ledger.workflow_id!r}: a step after the pivot must succeed, so fix the "
                f"cause and use retry"
            )
        if action in ("skip", "resolve") and not (request.reason and request.reason.strip()):
            raise OperatorActionRejected(
                f"{action} on saga {ledger.workflow_id!r} needs a reason: say why the "
                f"compensation may be left undone (it is kept in the audit trail)"
            )
        if request.step is not None and request.step not in parking.steps:
            raise OperatorActionRejected(
                f"step {request.step!r} is not parked in saga {ledger.workflow_id!r}; "
                f"parked: {', '.join(parking.steps)}"
            )
        if action == "skip" and request.step is None and len(parking.steps) > 1:
            raise OperatorActionRejected(
                f"several steps are parked in saga {ledger.workflow_id!r} "
                f"({', '.join(parking.steps)}): name the one to skip"
            )

    def _target(self, action: Action, request: OperatorRequest) -> str | None:
        if request.step is not None or action == "resolve" or self._parking is None:
            return request.step
        return self._parking.steps[0] if len(self._parking.steps) == 1 else None
