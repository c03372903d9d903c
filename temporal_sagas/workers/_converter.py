"""The payload converter sagas use: pydantic, and invalid input refused as input.

A saga started by a client that does not share its models (the plain ``temporal``
CLI, another language, an old service) may carry input its model rejects. With the
SDK's own pydantic converter, decoding that input raises inside the workflow task:
the task fails, Temporal retries it forever, and the saga sits RUNNING having done
nothing. Here a pydantic validation error while decoding a workflow's own payloads
(its input, and its update, signal and query arguments) becomes an
``ApplicationError`` of type ``SagaInputError``: the saga closes FAILED at once
(nothing ran, so nothing is compensated) and an update is rejected. Activity results
keep the SDK's behaviour. The message lists where the input is wrong and why, never
the offending values, which may be secrets. A payload a strict `EncryptionCodec`
refused (it arrived unencrypted) is refused the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import SerializationContext, WorkflowSerializationContext
from temporalio.exceptions import ApplicationError

from temporal_sagas._contract import SAGA_INPUT_ERROR
from temporal_sagas.workers._codec import EncryptionKeyError, refused_plaintext

#: How many validation problems a `SagaInputError` lists before "and N more".
_LISTED = 5


class SagaPayloadConverter(PydanticPayloadConverter):
    """`PydanticPayloadConverter` that turns invalid workflow input into ``SagaInputError``."""

    _workflow_id: str | None = None

    def with_context(self, context: SerializationContext) -> SagaPayloadConverter:
        """This converter, knowing it decodes the payloads of workflow ``context``."""
        if not isinstance(context, WorkflowSerializationContext):
            return self
        converter = copy.copy(self)
        converter._workflow_id = context.workflow_id
        return converter

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """Decode ``payloads``; see the base class. Raises ``SagaInputError`` as above.

        A payload a strict `EncryptionCodec` refused is refused here too: in a
        workflow, as ``SagaInputError`` (the saga fails, an update is rejected, a
        signal dropped); elsewhere, as `EncryptionKeyError`.
        """
        refused = refused_plaintext(payloads)
        if refused is not None:
            if self._workflow_id is None:
                raise EncryptionKeyError(refused)
            raise ApplicationError(
                f"{self._workflow_id!r}: {refused}", type=SAGA_INPUT_ERROR, non_retryable=True
            )
        try:
            return super().from_payloads(payloads, type_hints)
        except ValidationError as err:
            if self._workflow_id is None:
                raise
            raise input_error(err, self._workflow_id) from None


def validation_problems(err: ValidationError) -> str:
    """Where and why ``err`` refused its input, never the values (which may be secrets)."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(input)'}: {problem['msg']}"
        for problem in err.errors(include_input=False, include_url=False)
    ]
    more = len(problems) - _LISTED
    return "; ".join(problems[:_LISTED]) + (f"; and {more} more" if more > 0 else "")


def input_error(err: ValidationError, workflow_id: str) -> ApplicationError:
    """The non-retryable ``SagaInputError`` for ``err``, naming locations, not values."""
    return ApplicationError(
        f"the input of {workflow_id!r} does not fit {err.title}: {validation_problems(err)}. "
        "Nothing ran; "
        "start it again with valid input (sagas start validates it before starting)",
        type=SAGA_INPUT_ERROR,
        non_retryable=True,
    )
