"""A failure converter that records a saga's own outcome without reading source files."""

from __future__ import annotations

import traceback

import temporalio.api.failure.v1
from temporalio.converter import DefaultFailureConverter, PayloadConverter
from temporalio.exceptions import ApplicationError

from temporal_sagas._errors import SAGA_COMPENSATED, SAGA_COMPENSATION_FAILED
from temporal_sagas._unwrapped import plain_isinstance

_OUTCOMES = frozenset({SAGA_COMPENSATED, SAGA_COMPENSATION_FAILED})


class SagaFailureConverter(DefaultFailureConverter):
    """Temporal's default failure converter, with a compact stack for saga outcomes.

    The default formats a failure's stack trace with each frame's source line, which
    costs a file check and a parse per frame. A compensated saga ends with such an
    error on every run, and its frames are the engine's and the SDK's, so for the two
    outcome errors (``SagaCompensated``, ``SagaCompensationFailed``) the stack names
    file, line and function only. Every other failure is converted as by default.
    `SagaPlugin` installs it unless another failure converter was configured.
    """

    def to_failure(
        self,
        exception: BaseException,
        payload_converter: PayloadConverter,
        failure: temporalio.api.failure.v1.Failure,
    ) -> None:
        """Convert ``exception`` into ``failure``; see the base class."""
        tb = exception.__traceback__
        if tb is None or not _is_outcome(exception):
            super().to_failure(exception, payload_converter, failure)
            return
        exception.__traceback__ = None
        try:
            super().to_failure(exception, payload_converter, failure)
        finally:
            exception.__traceback__ = tb
        failure.stack_trace = "\n".join(
            f'  File "{frame.f_code.co_filename}", line {line}, in {frame.f_code.co_name}'
            for frame, line in traceback.walk_tb(tb)
        )


def _is_outcome(exception: BaseException) -> bool:
    return (
        plain_isinstance(exception, ApplicationError)
        and exception.failure is None
        and exception.type in _OUTCOMES
    )
