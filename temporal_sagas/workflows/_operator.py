"""Parking a saga in NEEDS_ATTENTION and taking an operator's decision.

The updates ``saga_retry``, ``saga_skip`` and ``saga_resolve`` are installed when the
saga first parks and validated before they are accepted, so a wrong request (the saga
is not parked, an unknown step, a missing reason, a bad signature) is rejected and
leaves no trace in the history.

Authentication: when the worker was given operator keys (`SagaPlugin(operator_keys=)`,
``SAGAS_OPERATOR_KEYS``), the validator accepts only a request signed by one of them
for this namespace, saga, run, action, step and reason, recent, with a nonce the saga
has not accepted before (`temporal_sagas._operators`). The handler records the key id
as the operator. Without keys (development mode) the caller's word is taken and the
action is recorded as unauthenticated.

Replay safety: validators run only when an update arrives, never on replay, and the
handler decides nothing from the worker's configuration, only from the request and
the saga's own state. So adding, rotating or removing keys never changes what a
recorded history replays to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from temporal_sagas import _operators as operators
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
    __slots__ = ("_decisions", "_nonces", "_open", "_parking", "_rt")

    def __init__(self, runtime: SagaRuntime) -> None:
        self._rt = runtime
        self._parking: _Parking | None = None
        self._decisions: list[Decision] = []
        # The nonces of the signed requests this saga accepted: each is good once.
        self._nonces: set[str] = set()
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
            # Two updates with one nonce can pass their validators in the same workflow
            # task, before either handler ran; the second one fails here.
            if request.nonce is not None and request.nonce in self._nonces:
                # An ApplicationError fails this update only; any other exception
                # raised in a handler would fail the workflow task.
                raise ApplicationError(
                    f"nonce {request.nonce!r} was already accepted: a signed request is good once",
                    type=OperatorActionRejected.__name__,
                    non_retryable=True,
                )
            if request.nonce is not None:
                self._nonces.add(request.nonce)
            step = self._target(action, request)
            # Only the request decides what is recorded (never the worker's keys), so a
            # replay under another key set records the same action. A signed request
            # reached the handler only through a validator that verified it: a worker
            # without keys rejects signed requests rather than record them unverified.
            record = OperatorAction(
                action=action,
                step=step,
                reason=request.reason,
                operator=request.key_id if request.signed else request.operator,
                at=workflow.now(),
                authenticated=request.signed,
                identity=request.identity,
            )
            self._rt.ledger.operator_actions += (record,)
            self._rt.emit(SagaEventKind.OPERATOR_ACTION, step=step, detail=record.audit_detail())
            self._decisions.append(Decision(action=action, step=step, reason=request.reason))
            return record

        return handle

    def _authenticate(self, action: Action, request: OperatorRequest) -> None:
        """Reject a request the worker's operator keys do not vouch for (live only)."""
        info = workflow.info()
        keys = operators.operator_keys_for(info.task_queue)
        wid = info.workflow_id
        if keys is None:
            if request.signed:
                raise OperatorActionRejected(
                    f"saga {wid!r} runs on a worker without operator keys (development "
                    f"mode) and cannot verify a signed {action}; send it unsigned, or "
                    f"give the worker SAGAS_OPERATOR_KEYS"
                )
            return
        if not (
            request.signed
            and request.key_id
            and request.nonce
            and request.issued_at is not None
            and request.signature is not None
        ):
            raise OperatorActionRejected(
                f"saga {wid!r} accepts only signed operator requests: sign {action} with "
                f"an operator key (sagas {action} --key-id ... with SAGAS_OPERATOR_KEY "
                f"or --key-file)"
            )
        if request.nonce in self._nonces:
            raise OperatorActionRejected(
                f"saga {wid!r} already accepted a request with nonce {request.nonce!r}; "
                f"a signed request is good once: sign a new one"
            )
        signed = operators.SignedFields(
            key_id=request.key_id,
            issued_at=request.issued_at,
            nonce=request.nonce,
            signature=request.signature,
        )
        try:
            # cryptography's Rust core imports its Python modules (its exceptions) as
            # it verifies; re-imported by the sandbox, a second initialisation of its
            # extension aborts the whole process. So those imports pass through.
            with workflow.unsafe.imports_passed_through():
                keys.verify(
                    signed,
                    namespace=info.namespace,
                    workflow_id=wid,
                    run_id=info.run_id,
                    action=action,
                    step=request.step,
                    reason=request.reason,
                    now=workflow.now().timestamp(),
                )
        except operators.OperatorAuthError as err:
            raise OperatorActionRejected(f"{action} on saga {wid!r} refused: {err}") from None

    def _check(self, action: Action, request: OperatorRequest) -> None:
        self._authenticate(action, request)
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
        if request.step is not None and request.step not in parking.steps:
            raise OperatorActionRejected(
                f"step {request.step!r} is not parked in saga {ledger.workflow_id!r}; "
                f"parked: {', '.join(parking.steps)}"
            )
        if not (request.reason and request.reason.strip()):
            raise OperatorActionRejected(
                f"{action} on saga {ledger.workflow_id!r} needs a reason: say why (it is "
                f"kept in the audit trail)"
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
