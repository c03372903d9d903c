"""Registration of the order-fulfillment definition on a worker.

The saga itself is data (``order.yaml``) run by the generic `DefinitionSaga`
workflow; there is no workflow class to write. A worker registers the definition
and checks, before it polls, that every activity the definition names is one the
worker has.
"""

from __future__ import annotations

from pathlib import Path

from examples.order_fulfillment.activities import ACTIVITIES
from temporal_sagas.definitions import SagaDefinition, register_definition, validate_definitions

#: The task queue the order-fulfillment worker polls.
TASK_QUEUE = "order-fulfillment"
#: The saga definition file.
DEFINITION_FILE = Path(__file__).with_name("order.yaml")


def register() -> SagaDefinition:
    """Register ``order.yaml`` and check its activities; call before the worker polls.

    Returns:
        The registered definition (its ``name`` and ``version`` start sagas).

    Raises:
        InvalidDefinitionError: The file is invalid or names an unknown activity.
    """
    definition = register_definition(DEFINITION_FILE)
    validate_definitions([definition], activities=ACTIVITIES)
    return definition
