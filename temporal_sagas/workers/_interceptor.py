"""Carries each step's context from the workflow to its activity in a Temporal header."""

from __future__ import annotations

from typing import Any

import temporalio.worker
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from temporal_sagas._context import STEP_HEADER, incoming_step, outgoing_step
from temporal_sagas._models import StepContext

_converter = pydantic_data_converter.payload_converter


def _with_step(headers: Any) -> dict[str, Payload]:
    merged: dict[str, Payload] = dict(headers)
    context = outgoing_step.get()
    if context is not None:
        merged[STEP_HEADER] = _converter.to_payloads([context])[0]
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


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        payload = input.headers.get(STEP_HEADER)
        if payload is None:
            return await super().execute_activity(input)
        context = _converter.from_payloads([payload], [StepContext])[0]
        token = incoming_step.set(context)
        try:
            return await super().execute_activity(input)
        finally:
            incoming_step.reset(token)
