"""Signed operator actions: the validator accepts only what a trusted key signed, once.

Every rejection is checked on the raw history: a request the validator refuses must
leave no ``WorkflowExecutionUpdateAccepted``/``Completed`` event behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from temporal_sagas import OperatorKeys, OperatorRequest, SagaPlugin, SagaStatus, saga_state
from temporal_sagas._client import send_operator_request
from temporal_sagas._operators import OperatorKey, sign_request
from temporal_sagas.history import saga_state_from_history
from tests.sagas import (
    Script,
    ScriptedSaga,
    StepScript,
    keyed_worker,
    new_id,
    start,
    wait_for,
    wait_for_status,
)

UPDATE_EVENTS = (
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
)


def _script(middle: str = "fail") -> Script:
    return Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", compensation=middle),  # type: ignore[arg-type]
            StepScript(name="ship", action="fail"),
        )
    )


def _key() -> tuple[Ed25519PrivateKey, OperatorKey]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    return private, OperatorKey(public_key=public, actions=frozenset({"retry", "skip", "resolve"}))


ANA, ANA_KEY = _key()
BO, _BO_KEY = _key()
BO_KEY = OperatorKey(public_key=_BO_KEY.public_key, actions=frozenset({"retry"}))
CY, CY_KEY = _key()
EVE, _ = _key()  # nobody trusts this one


@dataclass(frozen=True)
class Target:
    namespace: str
    workflow_id: str
    run_id: str


def signed(
    private: Ed25519PrivateKey,
    target: Target,
    action: str,
    *,
    key_id: str = "ana",
    step: str | None = "charge",
    reason: str = "refunded by phone",
    issued_at: int | None = None,
    **override: Any,
) -> OperatorRequest:
    """A request signed for ``target`` and ``action``; ``override`` edits it afterwards."""
    fields = sign_request(
        private,
        key_id,
        namespace=override.pop("namespace", target.namespace),
        workflow_id=override.pop("workflow_id", target.workflow_id),
        run_id=override.pop("run_id", target.run_id),
        action=action,
        step=step,
        reason=reason,
        issued_at=issued_at,
    )
    request = OperatorRequest(
        step=step,
        reason=reason,
        key_id=fields.key_id,
        issued_at=fields.issued_at,
        nonce=fields.nonce,
        signature=fields.signature,
    )
    return request.model_copy(update=override)


async def _parked(client: Client, task_queue: str, prefix: str, middle: str = "fail") -> Any:
    handle = await start(client, task_queue, _script(middle), new_id(prefix))
    await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
    return handle


def _target(client: Client, handle: WorkflowHandle[Any, Any]) -> Target:
    assert handle.result_run_id is not None
    return Target(client.namespace, handle.id, handle.result_run_id)


async def _update_events(handle: WorkflowHandle[Any, Any]) -> list[int]:
    history = await handle.fetch_history()
    return [e.event_type for e in history.events if e.event_type in UPDATE_EVENTS]


KEYS = OperatorKeys(keys={"ana": ANA_KEY, "bo": BO_KEY})

#: name -> (action sent, request builder, what the rejection says)
BAD: dict[str, tuple[str, Callable[[Target], OperatorRequest], str]] = {
    "forged": ("skip", lambda t: signed(EVE, t, "skip"), "does not match"),
    "unsigned": (
        "skip",
        lambda t: OperatorRequest(step="charge", reason="why not", operator="ana"),
        "accepts only signed",
    ),
    "expired": (
        "skip",
        lambda t: signed(ANA, t, "skip", issued_at=int(time.time()) - 3600),
        "expired",
    ),
    "unknown key": ("skip", lambda t: signed(EVE, t, "skip", key_id="eve"), "not one"),
    "action not allowed for the key": (
        "skip",
        lambda t: signed(BO, t, "skip", key_id="bo"),
        "may not skip",
    ),
    "other workflow id": (
        "skip",
        lambda t: signed(ANA, t, "skip", workflow_id=t.workflow_id + "-other"),
        "does not match",
    ),
    "other run id": (
        "skip",
        lambda t: signed(ANA, t, "skip", run_id=str(uuid.uuid4())),
        "does not match",
    ),
    "other namespace": (
        "skip",
        lambda t: signed(ANA, t, "skip", namespace="elsewhere"),
        "does not match",
    ),
    "other action": ("skip", lambda t: signed(ANA, t, "resolve"), "does not match"),
    "edited reason": (
        "skip",
        lambda t: signed(ANA, t, "skip").model_copy(update={"reason": "it was bo"}),
        "does not match",
    ),
    # Signed for step "reserve", sent for step "charge".
    "other step": (
        "skip",
        lambda t: signed(ANA, t, "skip", step="reserve").model_copy(update={"step": "charge"}),
        "does not match",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_request_the_keys_do_not_vouch_for_is_rejected_without_a_trace(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, case: str
) -> None:
    action, build, message = BAD[case]
    async with keyed_worker(saga_dev_env, saga_task_queue, KEYS) as client:
        handle = await _parked(client, saga_task_queue, "forged")
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await send_operator_request(handle, action, build(_target(client, handle)))  # type: ignore[arg-type]
        state = await saga_state(handle)
        events = await _update_events(handle)
        await handle.terminate("test over")

    assert message in str(caught.value.cause)
    assert events == []
    assert state.status is SagaStatus.NEEDS_ATTENTION
    assert state.operator_actions == ()


async def test_a_signed_request_is_recorded_under_its_key_id_beside_the_callers_identity(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with keyed_worker(saga_dev_env, saga_task_queue, KEYS) as client:
        handle = await _parked(client, saga_task_queue, "signed")
        request = signed(ANA, _target(client, handle), "skip").model_copy(
            update={"identity": client.identity}
        )
        await send_operator_request(handle, "skip", request)
        await wait_for(handle, lambda s: s.status.is_terminal)
        state = await saga_state(handle)
        history = await handle.fetch_history()

    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    (action,) = state.operator_actions
    assert (action.action, action.operator, action.authenticated) == ("skip", "ana", True)
    assert action.identity == accepted[0] == client.identity
    rebuilt = saga_state_from_history(history)
    assert rebuilt.operator_actions == state.operator_actions
    details = [e.detail for e in rebuilt.timeline if e.kind.value == "operator.action"]
    assert details == [f"skip by ana via {client.identity}: refunded by phone"]


async def test_a_nonce_is_accepted_once_even_when_the_saga_parks_again(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with keyed_worker(saga_dev_env, saga_task_queue, KEYS) as client:
        # The compensation keeps failing, so a retry parks the saga again: the
        # second copy of the request would pass every other check.
        handle = await _parked(client, saga_task_queue, "nonce", middle="fail_until_fixed")
        request = signed(ANA, _target(client, handle), "retry", reason="try again")
        await send_operator_request(handle, "retry", request)
        await wait_for(
            handle,
            lambda s: s.status is SagaStatus.NEEDS_ATTENTION and len(s.operator_actions) == 1,
        )
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await send_operator_request(handle, "retry", request)
        events = await _update_events(handle)
        state = await saga_state(handle)
        await handle.terminate("test over")

    assert "already accepted a request with nonce" in str(caught.value.cause)
    assert events == list(UPDATE_EVENTS)  # the first request's pair, nothing more
    assert len(state.operator_actions) == 1


async def test_rotating_the_keys_keeps_recorded_histories_replaying(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    rotated = OperatorKeys(keys={"cy": CY_KEY})
    async with keyed_worker(saga_dev_env, saga_task_queue, KEYS) as client:
        handle = await _parked(client, saga_task_queue, "rotate", middle="fail_until_fixed")
        await send_operator_request(
            handle, "retry", signed(ANA, _target(client, handle), "retry", reason="once more")
        )
        await wait_for(
            handle,
            lambda s: s.status is SagaStatus.NEEDS_ATTENTION and len(s.operator_actions) == 1,
        )
    # The worker restarts with a new key set: ana is no longer trusted, cy is.
    async with keyed_worker(saga_dev_env, saga_task_queue, rotated) as client:
        target = _target(client, handle)
        with pytest.raises(WorkflowUpdateFailedError) as old_key:
            await send_operator_request(handle, "skip", signed(ANA, target, "skip"))
        await send_operator_request(handle, "skip", signed(CY, target, "skip", key_id="cy"))
        await wait_for(handle, lambda s: s.status is SagaStatus.COMPENSATED)
        history = await handle.fetch_history()
        state = await saga_state(handle)

    assert "not one this saga trusts" in str(old_key.value.cause)
    assert [(a.action, a.operator, a.authenticated) for a in state.operator_actions] == [
        ("retry", "ana", True),
        ("skip", "cy", True),
    ]
    for keys in (rotated, KEYS, None):
        replayer = Replayer(workflows=[ScriptedSaga], plugins=[SagaPlugin(operator_keys=keys)])
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, keys


async def test_a_worker_without_keys_records_every_action_as_unauthenticated(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with keyed_worker(saga_dev_env, saga_task_queue, None) as client:
        handle = await _parked(client, saga_task_queue, "devmode")
        await send_operator_request(
            handle, "skip", OperatorRequest(step="charge", reason="by phone", operator="mallory")
        )
        await wait_for(handle, lambda s: s.status.is_terminal)
        state = await saga_state(handle)
        history = await handle.fetch_history()

    (action,) = state.operator_actions
    assert (action.operator, action.authenticated) == ("mallory", False)
    rebuilt = saga_state_from_history(history)
    (shown,) = [e.detail for e in rebuilt.timeline if e.kind.value == "operator.action"]
    assert shown.startswith("skip by mallory (unauthenticated) via ")
    assert rebuilt.operator_actions[0].identity == client.identity  # from the accepted event


async def test_a_worker_without_keys_rejects_a_signed_request_it_cannot_verify(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    async with keyed_worker(saga_dev_env, saga_task_queue, None) as client:
        handle = await _parked(client, saga_task_queue, "devsigned")
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await send_operator_request(
                handle, "skip", signed(ANA, _target(client, handle), "skip")
            )
        events = await _update_events(handle)
        await handle.terminate("test over")

    assert "without operator keys" in str(caught.value.cause)
    assert events == []
