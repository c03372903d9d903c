"""The engine's own type checks agree with the SDK's and with the builtin."""

from __future__ import annotations

import asyncio
import builtins

import pytest
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    NexusOperationError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

from temporal_sagas._unwrapped import is_cancelled, plain_isinstance


def _activity_error() -> ActivityError:
    return ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="charge",
        activity_id="1",
        retry_state=None,
    )


def _child_error() -> ChildWorkflowError:
    return ChildWorkflowError(
        "child failed",
        namespace="default",
        workflow_id="child",
        run_id="run",
        workflow_type="Child",
        initiated_event_id=5,
        started_event_id=6,
        retry_state=None,
    )


def _nexus_error() -> NexusOperationError:
    return NexusOperationError(
        "operation failed",
        scheduled_event_id=5,
        endpoint="endpoint",
        service="service",
        operation="operation",
        operation_token="token",
    )


def _caused(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


_EXCEPTIONS = {
    "asyncio cancel": asyncio.CancelledError(),
    "temporal cancel": CancelledError(),
    "application error": ApplicationError("no", type="Declined"),
    "timeout": TimeoutError("late", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]),
    "bug": ValueError("bug"),
    "activity error, no cause": _activity_error(),
    "activity cancelled": _caused(_activity_error(), CancelledError()),
    "activity failed": _caused(_activity_error(), ApplicationError("no")),
    "activity, asyncio cancel as cause": _caused(_activity_error(), asyncio.CancelledError()),
    "child cancelled": _caused(_child_error(), CancelledError()),
    "child failed": _caused(_child_error(), ApplicationError("no")),
    "nexus cancelled": _caused(_nexus_error(), CancelledError()),
    "application error caused by a cancel": _caused(ApplicationError("no"), CancelledError()),
}


@pytest.mark.parametrize("name", sorted(_EXCEPTIONS))
def test_is_cancelled_agrees_with_the_sdk(name: str) -> None:
    error = _EXCEPTIONS[name]
    assert is_cancelled(error) is is_cancelled_exception(error)


def test_plain_isinstance_is_the_builtin_found_at_import() -> None:
    assert plain_isinstance is builtins.isinstance
