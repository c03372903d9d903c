"""Type checks for the engine's hot path that skip the sandbox's `isinstance` wrapper.

While a workflow activation runs, the SDK's sandbox replaces `builtins.isinstance` with
a wrapper that first unwraps its restricted-module proxies: seven more calls per check,
and a compensated saga makes dozens. The engine only ever checks exceptions and
functions against its own imports, never a proxy, so it keeps the builtin it found when
this module was imported (outside any sandbox; imported inside one, it gets the wrapper,
which is slower but just as right).
"""

from __future__ import annotations

import asyncio
from builtins import isinstance as plain_isinstance

from temporalio.exceptions import (
    ActivityError,
    CancelledError,
    ChildWorkflowError,
    NexusOperationError,
)

__all__ = ["is_cancelled", "plain_isinstance"]

_CANCELS = (asyncio.CancelledError, CancelledError)
_CANCELLABLE = (ActivityError, ChildWorkflowError, NexusOperationError)


def is_cancelled(exception: BaseException) -> bool:
    """`temporalio.exceptions.is_cancelled_exception`, without the wrapper.

    A test pins that both agree on every kind of exception the SDK names.
    """
    if plain_isinstance(exception, _CANCELS):
        return True
    return plain_isinstance(exception, _CANCELLABLE) and plain_isinstance(
        exception.cause, CancelledError
    )
