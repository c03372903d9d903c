"""Checks and introspection for step declarations: names, activity names, signatures."""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import Any

from temporalio.exceptions import ApplicationError

from temporal_sagas._contract import SAGA_ABORTED
from temporal_sagas._errors import SagaDefinitionError
from temporal_sagas._unwrapped import plain_isinstance

_RESERVED = frozenset("/[]#")


def check_name(what: str, name: str) -> None:
    if not name or not _RESERVED.isdisjoint(name) or name != name.strip():
        raise SagaDefinitionError(
            f"invalid {what} {name!r}: use a non-empty name without '/', '[', ']', '#' or "
            "surrounding spaces (it becomes part of idempotency keys and activity ids)"
        )


def describe_failure(exc: BaseException) -> str:
    if plain_isinstance(exc, ApplicationError) and exc.type == SAGA_ABORTED:
        return f"it was aborted ({exc.message})"
    if plain_isinstance(exc, TimeoutError):
        return "a wait in the saga timed out"
    return f"{type(exc).__name__}: {exc}"


def activity_name(fn: Any) -> str:
    """The activity type an ``@activity.defn`` function (or a name) schedules."""
    return _declared_name(fn, "__temporal_activity_definition", "__name__")


def workflow_type_name(run_fn: Any) -> str:
    """The Temporal workflow type a ``@workflow.run`` method starts (as history names it)."""
    return _declared_name(run_fn, "__temporal_workflow_definition", "__qualname__")


def _declared_name(fn: Any, definition: str, fallback: str) -> str:
    # The SDK's decorators leave their definition, with its registered name, on the
    # function. Looked up first: it is the common case.
    name = getattr(getattr(fn, definition, None), "name", None)
    if name is not None:
        return str(name)
    if plain_isinstance(fn, str):
        return fn
    return str(getattr(fn, fallback, repr(fn)))


def takes_result(compensate: Any, n_args: int, explicit: bool | None) -> bool:
    if explicit is not None or plain_isinstance(compensate, str):
        return bool(explicit)
    count = _positional_count(compensate)
    if count == n_args + 1:
        return True
    if count == n_args:
        return False
    raise SagaDefinitionError(
        f"compensation {activity_name(compensate)!r} takes {count} positional "
        f"parameters; it must take the action's {n_args} argument(s), optionally followed by "
        "the action's result"
    )


def _positional_count(fn: Any) -> int:
    if type(fn) is FunctionType:
        # A plain function (as activities are) says it directly; a full signature
        # costs far more, and every step of every saga asks. (`type` rather than
        # `inspect.isfunction`, whose `isinstance` the sandbox wraps; functions
        # cannot be subclassed.)
        return fn.__code__.co_argcount
    return sum(
        1
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )
