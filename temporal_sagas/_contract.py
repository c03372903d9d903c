"""The saga contract's names and formats, each defined once.

Everything another process, a stored history or an operator's tool can see is
spelled here and imported everywhere else: the engine, the history rebuild, the
audit trail, the CLI and the testing helpers. Changing a value here changes what
running sagas, recorded histories and idempotency stores hold, so treat each one as
a wire format.

This module is pure (no Temporal calls, no I/O) and imports nothing from the rest of
the package, so that any module can use it, inside the workflow sandbox too.
"""

from __future__ import annotations

from typing import Literal

from temporalio.common import SearchAttributeKey

# --- Identities: idempotency keys, activity ids, child workflow ids -----------------


def step_key(saga: str, saga_key: str, step: str) -> str:
    """The idempotency key of a step's action: ``<saga>/<saga key>/<step>``.

    It is also the action's activity id, so that replay notices reordered steps and
    every retry, replay and restart reuses the same key.
    """
    return f"{saga}/{saga_key}/{step}"


def compensation_key(action_key: str) -> str:
    """The idempotency key (and activity id) of a step's compensation."""
    return f"{action_key}/compensate"


def execution_key(action_key: str, kind: object) -> str:
    """The key of one execution: the action's own (a probe asks about it), or its undo's."""
    return compensation_key(action_key) if kind == "compensation" else action_key


def probe_activity_id(action_key: str) -> str:
    """The activity id of the probe that asks whether a step's action took effect."""
    return f"{action_key}/probe"


def round_activity_id(activity_id: str, round_number: int) -> str:
    """The activity id of a compensation's ``round_number``-th attempt (an operator retry).

    The first round keeps the plain id; later ones append ``#<n>`` so that each round
    is its own activity in the history, while the idempotency key stays the same.
    """
    return activity_id if round_number == 1 else f"{activity_id}#{round_number}"


def round_of(activity_id: str) -> int:
    """Which round an activity id names (the inverse of `round_activity_id`)."""
    _, sep, number = activity_id.rpartition("#")
    return int(number) if sep and number.isdigit() else 1


def first_round_id(activity_id: str) -> str:
    """The activity id of a compensation's first round, given any of its rounds' ids."""
    head, sep, number = activity_id.rpartition("#")
    return head if sep and number.isdigit() else activity_id


def child_workflow_id(parent_workflow_id: str, step: str) -> str:
    """The workflow id of a child saga run as a step: ``<parent id>/<step>``."""
    return f"{parent_workflow_id}/{step}"


def rescue_workflow_id(workflow_id: str, run_id: str) -> str:
    """The id of the workflow that rescues one run of a saga: ``<id>/rescue/<run id>``.

    Derived from the saga's, so that rescuers racing for the same saga start one
    rescue between them, and a second rescue of a rescued run is refused.
    """
    return f"{workflow_id}/rescue/{run_id}"


#: The workflow type that runs a terminated or timed-out saga's remaining compensations.
RESCUE_WORKFLOW = "SagaRescue"
#: The workflow type that asks a saga's probes whether the real systems agree with it.
RECONCILE_WORKFLOW = "SagaReconcile"


# --- Messages: the query and the operator updates ------------------------------------

#: The query that returns the saga's `SagaState`.
QUERY_STATE = "saga_state"
#: Operator update: run the parked compensation again.
UPDATE_RETRY = "saga_retry"
#: Operator update: give up on the parked compensation, with a reason.
UPDATE_SKIP = "saga_skip"
#: Operator update: someone undid it by hand; record it as resolved, with a reason.
UPDATE_RESOLVE = "saga_resolve"

OperatorActionName = Literal["retry", "skip", "resolve"]

#: Update name -> the operator action it carries.
OPERATOR_UPDATES: dict[str, OperatorActionName] = {
    UPDATE_RETRY: "retry",
    UPDATE_SKIP: "skip",
    UPDATE_RESOLVE: "resolve",
}
#: Operator action -> the update that carries it.
UPDATE_FOR_ACTION: dict[OperatorActionName, str] = {
    action: name for name, action in OPERATOR_UPDATES.items()
}

# --- Headers -------------------------------------------------------------------------

#: The Temporal header that carries a step's `StepContext` (JSON) to its activity.
STEP_HEADER = "temporal-sagas-step"

# --- Search attributes ----------------------------------------------------------------

SAGA_NAME = SearchAttributeKey.for_keyword("SagaName")
"""Keyword search attribute holding the saga's name."""

SAGA_STATUS = SearchAttributeKey.for_keyword("SagaStatus")
"""Keyword search attribute holding the saga's `SagaStatus` value."""

SAGA_SEARCH_ATTRIBUTES = (SAGA_NAME, SAGA_STATUS)
"""Every key a namespace must know before sagas upsert them."""

# --- ApplicationError types ------------------------------------------------------------

#: The failure a compensated saga closes with.
SAGA_COMPENSATED = "SagaCompensated"
#: Compensation failed and the saga was told not to park.
SAGA_COMPENSATION_FAILED = "SagaCompensationFailed"
#: Raised by `Saga.abort`.
SAGA_ABORTED = "SagaAborted"
#: A saga's input does not fit its model or schema: nothing ran, nothing to compensate.
SAGA_INPUT_ERROR = "SagaInputError"
#: A definition saga names a definition the worker does not have.
SAGA_DEFINITION_NOT_FOUND = "SagaDefinitionNotFound"
#: An activity's result cannot be read as the step's result type.
SAGA_ACTIVITY_RESULT_ERROR = "SagaActivityResultError"
#: A compensation found no usable idempotency record of an action that may have run.
ACTION_RECORD_MISSING = "ActionRecordMissing"

# --- Compensation states ------------------------------------------------------------------

#: Compensation states after which nothing remains to undo for the step (NOT_NEEDED: the
#: saga completed, or a probe found the action took no effect).
#: Plain strings: `CompensationStatus` members compare equal to them.
COMPENSATION_DONE = frozenset({"COMPLETED", "SKIPPED", "RESOLVED", "NOT_NEEDED"})
