"""Carries each step's context from the workflow to its activity in a Temporal header."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import temporalio.worker
from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError
from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle, ChildWorkflowHandle

from temporal_sagas._context import incoming_step, outgoing_step
from temporal_sagas._contract import SAGA_ACTIVITY_RESULT_ERROR, STEP_HEADER
from temporal_sagas._models import StepContext

# The header is the JSON payload the pydantic converter would make, built directly
# (`encode_step_header` wrote its data): it is built for every activity a saga runs,
# inside the workflow sandbox, where the generic converter's type dispatch is
# comparatively slow. Copied from a template: filling a payload's metadata from a dict
# goes through a generic mapping update, which costs more than the copy.
_HEADER_TEMPLATE = Payload(metadata={"encoding": b"json/plain"})


def _with_step(headers: Any) -> dict[str, Payload]:
    merged: dict[str, Payload] = dict(headers)
    data = outgoing_step.get()
    if data is not None:
        payload = Payload()
        payload.CopyFrom(_HEADER_TEMPLATE)
        payload.data = data
        merged[STEP_HEADER] = payload
    return merged


class SagaInterceptor(temporalio.worker.Interceptor):
    """Worker interceptor: step context out of workflows, into activities.

    Installed by `SagaPlugin`; there is no need to add it by hand.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap activity execution so `current_step()` works inside saga activities."""
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        """Wrap workflow outbound calls so scheduled activities carry their step context."""
        return _WorkflowInbound


class _WorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        input.headers = _with_step(input.headers)
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> ActivityHandle[Any]:
        input.headers = _with_step(input.headers)
        return super().start_local_activity(input)

    async def start_child_workflow(
        self, input: StartChildWorkflowInput
    ) -> ChildWorkflowHandle[Any, Any]:
        # The header puts a child-saga step's facts into the parent's history too.
        input.headers = _with_step(input.headers)
        return await super().start_child_workflow(input)


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        payload = input.headers.get(STEP_HEADER)
        if payload is None:
            return await super().execute_activity(input)
        context = StepContext.model_validate_json(payload.data)
        token = incoming_step.set(context)
        try:
            result = await super().execute_activity(input)
        finally:
            incoming_step.reset(token)
        _check_result(input.fn, result, context)
        return result


@functools.lru_cache(maxsize=1024)
def _result_adapter(fn: Callable[..., Any]) -> TypeAdapter[Any] | None:
    defn = activity._Definition.from_callable(fn)
    ret_type = defn.ret_type if defn is not None else None
    if ret_type is None or ret_type is Any:
        return None
    try:
        return TypeAdapter(ret_type)
    except (PydanticSchemaGenerationError, TypeError):
        return None


def _check_result(fn: Callable[..., Any], result: Any, context: StepContext) -> None:
    """Fail the step (non-retryably) when an activity returns what it did not declare.

    Decoding the wrong type in the workflow would fail the workflow task instead,
    which stops the saga mid-way without compensating what came before.
    """
    adapter = _result_adapter(fn)
    if adapter is None:
        return
    try:
        adapter.validate_python(result)
    except ValidationError as err:
        raise ApplicationError(
            f"activity {getattr(fn, '__name__', fn)!r} of step {context.step!r} returned "
            f"{type(result).__name__}, not its declared return type: "
            f"{err.error_count()} validation error(s), first: {err.errors()[0]['msg']}; "
            "fix the activity. Its action ran, so the saga compensates this step too (unless "
            "it registers its compensation on success), then the steps before it",
            type=SAGA_ACTIVITY_RESULT_ERROR,
            non_retryable=True,
        ) from None
