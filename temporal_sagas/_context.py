"""Context variables that carry a step's identity from workflow code to its activity.

The saga engine sets `outgoing_step` to the step's header (`encode_step_header`) right
before it schedules an activity; the workflow outbound interceptor, called
synchronously by ``workflow.start_activity``, copies it into a Temporal header. On the
worker, the activity inbound interceptor reads the header back into `incoming_step`,
where `current_step` finds it. User activities keep their natural signatures.
"""

from __future__ import annotations

from contextvars import ContextVar
from json.encoder import encode_basestring
from typing import Literal

from temporal_sagas._errors import NotInSagaActivityError
from temporal_sagas._models import CompensationPolicy, StepContext

#: The JSON of the header the next scheduled activity carries, set by the engine.
outgoing_step: ContextVar[bytes | None] = ContextVar("temporal_sagas_outgoing", default=None)
incoming_step: ContextVar[StepContext | None] = ContextVar("temporal_sagas_incoming", default=None)


def encode_step_header(
    *,
    saga: str,
    saga_key: str,
    step: str,
    kind: Literal["action", "compensation", "probe"],
    workflow_id: str,
    policy: CompensationPolicy,
    pivot: bool,
    after_pivot: bool,
    compensation: str | None,
    compensate_on: Literal["attempt", "success"],
    probe: str | None = None,
    action_completed: bool = False,
    adopted: tuple[str, str] | None = None,
) -> bytes:
    """The step header's JSON, as `StepContext.model_validate_json` reads it back.

    Left out, because `StepContext` derives or defaults them: the step key and the
    idempotency key (the engine's are always the derived ones), the workflow id when it
    is the saga key, and the fields at their defaults. The header rides on every
    activity a saga schedules, so its bytes are stored, sent and read back each time.

    Written piece by piece, not through a `StepContext`: this runs inside the workflow
    sandbox for every activity, where building and dumping the model costs about ten
    times as much. A test pins that both give the same bytes.
    """
    parts = [
        '{"saga":',
        encode_basestring(saga),
        ',"saga_key":',
        encode_basestring(saga_key),
        ',"step":',
        encode_basestring(step),
        ',"kind":"',
        kind,
        '"',
    ]
    if workflow_id != saga_key:
        parts += (',"workflow_id":', encode_basestring(workflow_id))
    if policy is not CompensationPolicy.SEQUENTIAL:
        parts += (',"policy":"', policy.value, '"')
    if pivot:
        parts.append(',"pivot":true')
    if after_pivot:
        parts.append(',"after_pivot":true')
    if compensation is not None:
        parts += (',"compensation":', encode_basestring(compensation))
    if compensate_on != "attempt":
        parts += (',"compensate_on":"', compensate_on, '"')
    if probe is not None:
        parts += (',"probe":', encode_basestring(probe))
    if action_completed:
        parts.append(',"action_completed":true')
    if adopted is not None:
        parts += (',"adopted_action":', encode_basestring(adopted[0]))
        parts += (',"adopted_status":"', adopted[1], '"')
    parts.append("}")
    return "".join(parts).encode()


def current_step() -> StepContext:
    """Return the saga context of the running activity.

    Returns:
        The `StepContext` the saga engine attached to this activity execution.

    Raises:
        NotInSagaActivityError: The caller is not an activity scheduled by a saga, or
            the worker runs without `SagaPlugin` (which installs the interceptor).
    """
    ctx = incoming_step.get()
    if ctx is None:
        raise NotInSagaActivityError(
            "no saga step context here: call current_step()/current_idempotency_key() only "
            "inside an activity that a Saga scheduled, on a worker configured with SagaPlugin"
        )
    return ctx


def current_idempotency_key() -> str:
    """Return the idempotency key of the running saga activity.

    The key is stable across retries, replays and worker restarts. An action's key
    is ``<saga>/<saga key>/<step>``; its compensation's key adds ``/compensate``.
    The compensation can read its action's key from ``current_step().step_key``.

    Raises:
        NotInSagaActivityError: Called outside an activity scheduled by a saga.
    """
    return current_step().idempotency_key


def idempotency_headers(name: str = "Idempotency-Key") -> dict[str, str]:
    """HTTP headers that pass the running saga activity's key to a downstream service.

    Many payment and booking APIs deduplicate on an ``Idempotency-Key`` header; with
    it, a retried activity's second request has no second effect there either.

    Example:
        ```python
        await http.post(url, json=body, headers=idempotency_headers())
        ```

    Args:
        name: The header name the downstream service expects.

    Raises:
        NotInSagaActivityError: Called outside an activity scheduled by a saga.
    """
    return {name: current_idempotency_key()}
