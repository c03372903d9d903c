"""Code that runs inside the workflow sandbox: the saga engine. Deterministic only.

The generic workflow that runs YAML/JSON definitions (`DefinitionSaga`) is built on this
engine and lives with the definitions, in `temporal_sagas.definitions`, behind its extra.
"""

from temporal_sagas._contract import QUERY_STATE, UPDATE_RESOLVE, UPDATE_RETRY, UPDATE_SKIP
from temporal_sagas.workflows._declarative import SagaStep, saga_steps, saga_workflow, step
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

__all__ = [
    "QUERY_STATE",
    "UPDATE_RESOLVE",
    "UPDATE_RETRY",
    "UPDATE_SKIP",
    "Saga",
    "SagaStep",
    "StepOptions",
    "saga_steps",
    "saga_workflow",
    "step",
]
