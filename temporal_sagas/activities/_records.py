"""How long idempotency records live, and what a compensation may conclude from a missing one.

A saga's records are *held* while the saga is open: they carry its workflow id and no
expiry, however long it stays parked. `release_closed_sagas` (run it next to
`IdempotencyStore.purge_expired`) asks Temporal which of those sagas have closed and
starts their records' TTL.

A compensation that finds no record under its action's key usually concludes the
action never committed, and records a *void* there so that a late attempt cannot
commit after it. That is only sound while a missing record proves nothing happened.
`refuse_void` names the cases where it does not: the record expired (its saga's
records were released, or it was written before records were held), or the saga saw
the action complete. The compensation then fails for good, naming the key, and the
saga parks for an operator instead of voiding money that really moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from temporal_sagas._context import incoming_step
from temporal_sagas._contract import ACTION_RECORD_MISSING
from temporal_sagas.activities._stores import IdempotencyStore, KeyRecord
from temporal_sagas.activities._stores._base import COMPLETED

_log = structlog.get_logger("temporal_sagas.idempotency")


def held_for() -> str | None:
    """The workflow id a record written now is held for: the running saga step's, else None."""
    step = incoming_step.get()
    return None if step is None else step.workflow_id


def action_record_missing(key: str, why: str) -> ApplicationError:
    """The non-retryable failure of a compensation that cannot tell whether its action ran."""
    return ApplicationError(
        f"no usable idempotency record for action key {key!r}: {why}. The action may have "
        "taken effect, so this compensation will not record a void (that would lose the "
        "undo). Check the key in the target system, undo it by hand if needed, then resolve "
        "or skip the parked saga",
        key,
        type=ACTION_RECORD_MISSING,
        non_retryable=True,
    )


def refuse_void(action_key: str, *, expired_at: float | None = None) -> None:
    """Raise unless recording a void under ``action_key`` is sound.

    Args:
        action_key: The key of the action the running compensation undoes.
        expired_at: When a completed record existed under the key but its TTL ran
            out: the epoch second it expired.

    Raises:
        ApplicationError: Non-retryable, of type ``ActionRecordMissing`` and naming
            the key: the record expired, or the running compensation's saga saw
            this action complete (so its record must exist and does not).
    """
    if expired_at is not None:
        when = datetime.fromtimestamp(expired_at, UTC).isoformat(timespec="seconds")
        raise action_record_missing(action_key, f"its record expired at {when}")
    step = incoming_step.get()
    if (
        step is not None
        and step.kind == "compensation"
        and step.step_key == action_key
        and step.action_completed
    ):
        raise action_record_missing(
            action_key,
            "the saga saw this action complete, yet the store holds no record of it "
            "(deleted by hand, or purged before records were held for their saga)",
        )


async def action_record(
    store: IdempotencyStore, key: str | None = None, *, clock: Callable[[], float] = time.time
) -> KeyRecord | None:
    """The completed record of the action the running compensation undoes.

    For compensations whose action is `idempotent`: ``None`` means the action never
    completed under its key, so there is nothing to undo.

    Args:
        store: The store the action recorded in.
        key: The action's key. Default: the running compensation's
            ``current_step().step_key``.
        clock: The store's clock (epoch seconds), to tell an expired record.

    Returns:
        The record, or None when the action never completed.

    Raises:
        ApplicationError: Non-retryable ``ActionRecordMissing`` (see `refuse_void`):
            the record expired, or the saga saw the action complete and no record
            exists. The saga parks instead of compensating nothing.
    """
    if key is None:
        step = incoming_step.get()
        if step is None:
            raise ValueError("action_record() needs key= outside a saga compensation")
        key = step.step_key
    record = await store.get(key)
    if record is not None and record.state == COMPLETED:
        if record.expires_at is None or record.expires_at > clock():
            return record
        refuse_void(key, expired_at=record.expires_at)
    refuse_void(key)
    return None


async def release_closed_sagas(store: IdempotencyStore, client: Client) -> list[str]:
    """Start the TTL of every held record whose saga has closed; return those sagas.

    Run it periodically (say daily, before `IdempotencyStore.purge_expired`). A saga
    that is still open, parked or not, keeps its records. A workflow Temporal no
    longer knows (past the namespace's retention) counts as closed.

    Args:
        store: The store holding the records.
        client: A client of the namespace the sagas run in.

    Returns:
        The workflow ids whose records were released.
    """
    released: list[str] = []
    for workflow_id in await store.held_sagas():
        try:
            description = await client.get_workflow_handle(workflow_id).describe()
            running = description.status == WorkflowExecutionStatus.RUNNING
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            running = False
        if running:
            continue
        count = await store.release_saga(workflow_id)
        _log.info("idempotency.released", workflow_id=workflow_id, records=count)
        released.append(workflow_id)
    return released


async def unowned_sagas(store: IdempotencyStore, client: Client) -> list[str]:
    """The workflow ids the store holds records for that Temporal has no saga under.

    A held record belongs to a saga step; its saga is released (`release_closed_sagas`)
    once it has closed. A workflow id Temporal does not know at all points at an effect
    no saga owns: a record written under a forged or mistyped id, or a saga whose history
    aged out before its records were released. `sagas reconcile --sqlite-store` /
    ``--postgres-store`` reports them.
    """
    unowned = []
    for workflow_id in await store.held_sagas():
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            unowned.append(workflow_id)
    return unowned
