"""Code that runs inside the workflow sandbox: the saga engine. Deterministic only."""

from temporal_sagas.workflows._declarative import SagaStep, saga_steps, saga_workflow, step
from temporal_sagas.workflows._definition import (
    DefinitionIssue,
    InvalidDefinitionError,
    SagaDefinition,
    load_definition,
    parse_definition,
)
from temporal_sagas.workflows._generic import (
    DEFINITIONS,
    DefinitionRegistry,
    DefinitionSaga,
    DefinitionSagaInput,
    register_definition,
    validate_definitions,
)
from temporal_sagas.workflows._operator import (
    QUERY_STATE,
    UPDATE_RESOLVE,
    UPDATE_RETRY,
    UPDATE_SKIP,
)
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

__all__ = [
    "DEFINITIONS",
    "QUERY_STATE",
    "UPDATE_RESOLVE",
    "UPDATE_RETRY",
    "UPDATE_SKIP",
    "DefinitionIssue",
    "DefinitionRegistry",
    "DefinitionSaga",
    "DefinitionSagaInput",
    "InvalidDefinitionError",
    "Saga",
    "SagaDefinition",
    "SagaStep",
    "StepOptions",
    "load_definition",
    "parse_definition",
    "register_definition",
    "saga_steps",
    "saga_workflow",
    "step",
    "validate_definitions",
]
