"""Context variables that carry a step's identity from workflow code to its activity.

The saga engine sets `outgoing_step` right before it schedules an activity; the
workflow outbound interceptor, called synchronously by ``workflow.start_activity``,
copies it into a Temporal header. On the worker, the activity inbound interceptor
reads the header back into `incoming_step`, where `current_step` finds it. User
activities keep their natural signatures.
"""

from __future__ import annotations

from contextvars import ContextVar

from temporal_sagas._errors import NotInSagaActivityError
from temporal_sagas._models import StepContext

#: The Temporal header that carries a `StepContext` (JSON) to the activity.
STEP_HEADER = "temporal-sagas-step"

outgoing_step: ContextVar[StepContext | None] = ContextVar("temporal_sagas_outgoing", default=None)
incoming_step: ContextVar[StepContext | None] = ContextVar("temporal_sagas_incoming", default=None)


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
