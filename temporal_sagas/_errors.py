"""The exception hierarchy: every error the framework raises is a `SagaError`.

Each message says what went wrong, where, and what to do about it.

Errors that must cross the Temporal boundary (the outcome of a saga run) are
`temporalio.exceptions.ApplicationError` values with a well-known ``type``; the
names of those types are in `temporal_sagas._contract`.
"""

from __future__ import annotations


class SagaError(Exception):
    """Base class of every error raised by temporal-sagas."""


class SagaDefinitionError(SagaError):
    """A saga is declared in a way the contract forbids.

    Examples: a compensation on or after the pivot, two pivots, a saga opened twice
    in one workflow run. Raised inside workflow code this is a bug in that code: the
    workflow task fails and Temporal retries it, so nothing is compensated and the
    saga resumes once fixed code is deployed.
    """


class SagaInputError(SagaError):
    """The input given to a saga, a step or an operator action is not valid."""


class OperatorActionRejected(SagaError):
    """An operator update (retry, skip, resolve) does not fit the saga's state.

    The update is rejected by its validator, so it leaves no trace in the history.
    """


class NotInSagaActivityError(SagaError):
    """Saga context was asked for outside an activity that a saga scheduled."""


class SagaNotFoundError(SagaError):
    """No saga with the given workflow id exists in the namespace."""
