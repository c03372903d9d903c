"""A failure converter that records a saga's own outcome as an outcome, not as a crash."""

from __future__ import annotations

import temporalio.api.failure.v1
from temporalio.converter import DefaultFailureConverter, PayloadConverter
from temporalio.exceptions import ApplicationError

from temporal_sagas._contract import SAGA_COMPENSATED, SAGA_COMPENSATION_FAILED
from temporal_sagas._unwrapped import plain_isinstance

_OUTCOMES = frozenset({SAGA_COMPENSATED, SAGA_COMPENSATION_FAILED})


class SagaFailureConverter(DefaultFailureConverter):
    """Temporal's default failure converter; a saga's outcome carries no stack trace.

    The two outcome errors (``SagaCompensated``, ``SagaCompensationFailed``) are how a
    saga reports what it did, not a crash: their stack would only name the engine's and
    the SDK's frames, yet the default formats it with each frame's source line (a file
    check and a parse per frame) and stores it in the history of every compensated
    saga. They are converted without it; their cause, the failure that started the
    compensation, keeps its own stack as the activity reported it. Every other failure
    is converted as by default. `SagaPlugin` installs it unless another failure
    converter was configured.
    """

    def to_failure(
        self,
        exception: BaseException,
        payload_converter: PayloadConverter,
        failure: temporalio.api.failure.v1.Failure,
    ) -> None:
        """Convert ``exception`` into ``failure``; see the base class."""
        if _is_outcome(exception):
            # Dropped for good: the outcome is done with, and its traceback would keep
            # the engine's frames, and all they refer to, alive for the collector.
            exception.__traceback__ = None
        super().to_failure(exception, payload_converter, failure)


class EncodedSagaFailureConverter(SagaFailureConverter):
    """`SagaFailureConverter` that moves messages and stack traces into a payload.

    A failure's message can quote data (an activity's error naming a card number, a
    validation error quoting the input), and the message and stack trace are plain
    strings in history. This converter moves them, at every level of the cause
    chain, into the failure's encoded attributes, which the payload codec encrypts;
    history shows "Encoded failure" in their place. `SagaPlugin` installs it when a
    codec is set. The data converter builds failure converters without arguments,
    hence a class rather than a flag.
    """

    def __init__(self) -> None:
        """Create the converter, with common attributes encoded."""
        super().__init__(encode_common_attributes=True)


def _is_outcome(exception: BaseException) -> bool:
    return (
        plain_isinstance(exception, ApplicationError)
        and exception.failure is None
        and exception.type in _OUTCOMES
    )
