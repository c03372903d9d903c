"""Client-side helpers: start a saga idempotently, read its state, act on a parked saga."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError

from temporal_sagas._contract import QUERY_STATE, SAGA_NAME, SAGA_STATUS, UPDATE_FOR_ACTION
from temporal_sagas._errors import OperatorActionRejected
from temporal_sagas._models import OperatorAction, OperatorRequest, SagaState, SagaStatus

A = TypeVar("A")
R = TypeVar("R")


@overload
async def start_saga(
    client: Client,
    saga_workflow: Callable[[Any, A], Awaitable[R]],
    arg: A,
    *,
    id: str,
    task_queue: str,
    saga_name: str | None = None,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
) -> WorkflowHandle[Any, R]: ...


@overload
async def start_saga(
    client: Client,
    saga_workflow: str,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    saga_name: str | None = None,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
) -> WorkflowHandle[Any, Any]: ...


async def start_saga(
    client: Client,
    saga_workflow: Any,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    saga_name: str | None = None,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
) -> WorkflowHandle[Any, Any]:
    """Start a saga whose workflow id is its business key; starting twice is harmless.

    A running saga with the same id is returned instead of a new one
    (``USE_EXISTING``). A closed one is governed by ``id_reuse_policy``: by default
    a saga that failed may run again, one that completed may not.

    Args:
        client: A client connected with `SagaPlugin`.
        saga_workflow: The saga workflow's run method, or its workflow type name
            (as an outbox row carries it).
        arg: The saga's input.
        id: The business key, used as the workflow id.
        task_queue: Where the saga's worker polls.
        saga_name: When given, ``SagaName``/``SagaStatus`` are set at start, which
            saves the saga one search-attribute upsert event.
        id_reuse_policy: What a start does when a closed saga has this id.
    """
    attributes = None
    if saga_name is not None:
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(SAGA_NAME, saga_name),
                SearchAttributePair(SAGA_STATUS, SagaStatus.RUNNING.value),
            ]
        )
    return await client.start_workflow(
        saga_workflow,
        arg,
        id=id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=id_reuse_policy,
        search_attributes=attributes,
    )


async def saga_state(handle: WorkflowHandle[Any, Any]) -> SagaState:
    """Return the live `SagaState` of a saga (also answered after it closed)."""
    state: SagaState = await handle.query(QUERY_STATE, result_type=SagaState)
    return state


@dataclass(frozen=True)
class OperatorSigner:
    """An operator's signing key: requests it signs are recorded under ``key_id``.

    Build it with `OperatorSigner.load` (``sagas retry|skip|resolve`` reads the key
    from ``--key-file`` or ``SAGAS_OPERATOR_KEY``).

    Attributes:
        key_id: The id the saga's worker knows the matching public key by.
        private_key: An ``Ed25519PrivateKey`` (from ``cryptography``).
    """

    key_id: str
    private_key: Any

    @classmethod
    def load(cls, key_id: str, text: str, *, where: str = "operator key") -> OperatorSigner:
        """A signer from a private key: base64 of the raw 32 bytes, or a PEM block."""
        from temporal_sagas._operators import load_private_key

        return cls(key_id=key_id, private_key=load_private_key(text, where))


async def operator_action(
    handle: WorkflowHandle[Any, Any],
    action: Literal["retry", "skip", "resolve"],
    *,
    step: str | None = None,
    reason: str | None = None,
    operator: str | None = None,
    signer: OperatorSigner | None = None,
) -> OperatorAction:
    """Send an operator decision to a saga parked in NEEDS_ATTENTION.

    With a ``signer`` the request is signed for this namespace, saga, current run,
    action, step and reason, and the saga records the signer's key id as the
    operator. Without one the request is unsigned: only a worker without operator
    keys (development mode) accepts it, recording ``operator`` as unauthenticated.

    Raises:
        temporalio.client.WorkflowUpdateFailedError: The saga rejected the action
            (not parked, unknown step, missing reason, bad or missing signature);
            the cause says why.
    """
    # The handle keeps its client private; the namespace and the identity the
    # update is sent with are the client's.
    client = handle._client
    request = OperatorRequest(step=step, reason=reason, operator=operator, identity=client.identity)
    if signer is not None:
        from temporal_sagas._operators import sign_request

        run_id = handle.run_id or (await handle.describe()).run_id
        handle = client.get_workflow_handle(handle.id, run_id=run_id)
        signed = sign_request(
            signer.private_key,
            signer.key_id,
            namespace=client.namespace,
            workflow_id=handle.id,
            run_id=run_id,
            action=action,
            step=step,
            reason=reason,
        )
        request = request.model_copy(
            update={
                "operator": None,
                "key_id": signed.key_id,
                "issued_at": signed.issued_at,
                "nonce": signed.nonce,
                "signature": signed.signature,
            }
        )
    return await send_operator_request(handle, action, request)


async def send_operator_request(
    handle: WorkflowHandle[Any, Any],
    action: Literal["retry", "skip", "resolve"],
    request: OperatorRequest,
) -> OperatorAction:
    """Send a ready `OperatorRequest` (signed or not) as the action's update."""
    try:
        done: OperatorAction = await handle.execute_update(
            UPDATE_FOR_ACTION[action], request, result_type=OperatorAction
        )
    except WorkflowUpdateFailedError as err:
        if not _is_unknown_update(err.cause):
            raise
        # The operator desk opens when a saga first parks; before that the update
        # does not exist yet. Say so in the saga's own words.
        rejected = ApplicationError(
            f"saga {handle.id!r} has never parked, so it is not waiting for an "
            f"operator: {action} applies only to a saga in NEEDS_ATTENTION "
            f"(`sagas show {handle.id}` shows where it is)",
            type=OperatorActionRejected.__name__,
            non_retryable=True,
        )
        raise WorkflowUpdateFailedError(rejected) from rejected
    return done


def _is_unknown_update(cause: BaseException) -> bool:
    return (
        isinstance(cause, ApplicationError)
        and cause.type == "RuntimeError"
        and "expected but not found" in cause.message
    )
