"""temporal-sagas: sagas on Temporal, with compensations that are never lost.

The public API is what ``__all__`` lists; everything else is private.
"""

from temporal_sagas._audit import AuditEvent
from temporal_sagas._audit_writer import flush_audit_log
from temporal_sagas._client import operator_action, saga_state, start_saga
from temporal_sagas._context import current_idempotency_key, current_step
from temporal_sagas._errors import (
    SAGA_ABORTED,
    SAGA_COMPENSATED,
    SAGA_COMPENSATION_FAILED,
    NotInSagaActivityError,
    OperatorActionRejected,
    SagaDefinitionError,
    SagaError,
    SagaInputError,
    SagaNotFoundError,
)
from temporal_sagas._log_processors import Redactor, audit_processors, drop_replayed
from temporal_sagas._models import (
    CompensationPolicy,
    CompensationRecord,
    CompensationReport,
    CompensationStatus,
    FailureInfo,
    OperatorAction,
    OperatorRequest,
    SagaEvent,
    SagaEventKind,
    SagaState,
    SagaStatus,
    StepContext,
    StepRecord,
    StepStatus,
)
from temporal_sagas._search_attributes import SAGA_NAME, SAGA_STATUS
from temporal_sagas.activities._idempotent import idempotent
from temporal_sagas.workers._app import SagaApp
from temporal_sagas.workers._codec import EncryptionCodec
from temporal_sagas.workers._plugin import SagaPlugin
from temporal_sagas.workflows._declarative import saga_workflow, step
from temporal_sagas.workflows._generic import (
    DefinitionSaga,
    DefinitionSagaInput,
    register_definition,
)
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

__version__ = "0.1.0"

__all__ = [
    "SAGA_ABORTED",
    "SAGA_COMPENSATED",
    "SAGA_COMPENSATION_FAILED",
    "SAGA_NAME",
    "SAGA_STATUS",
    "AuditEvent",
    "CompensationPolicy",
    "CompensationRecord",
    "CompensationReport",
    "CompensationStatus",
    "DefinitionSaga",
    "DefinitionSagaInput",
    "EncryptionCodec",
    "FailureInfo",
    "NotInSagaActivityError",
    "OperatorAction",
    "OperatorActionRejected",
    "OperatorRequest",
    "Redactor",
    "Saga",
    "SagaApp",
    "SagaDefinitionError",
    "SagaError",
    "SagaEvent",
    "SagaEventKind",
    "SagaInputError",
    "SagaNotFoundError",
    "SagaPlugin",
    "SagaState",
    "SagaStatus",
    "StepContext",
    "StepOptions",
    "StepRecord",
    "StepStatus",
    "__version__",
    "audit_processors",
    "current_idempotency_key",
    "current_step",
    "drop_replayed",
    "flush_audit_log",
    "idempotent",
    "operator_action",
    "register_definition",
    "saga_state",
    "saga_workflow",
    "start_saga",
    "step",
]
