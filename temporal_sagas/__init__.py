"""temporal-sagas: sagas on Temporal, with compensations that are never lost.

The public API is what ``__all__`` lists; everything else is private. Each name is
imported on first use, so ``import temporal_sagas`` costs almost nothing and names
behind an extra (`DefinitionSaga`, `register_definition` need ``[definitions]``) are
only required by code that uses them.
"""

from typing import TYPE_CHECKING

from temporal_sagas._lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "AuditEvent": "temporal_sagas.audit._events",
    "flush_audit_log": "temporal_sagas.audit._writer",
    "Redactor": "temporal_sagas.audit._processors",
    "audit_processors": "temporal_sagas.audit._processors",
    "drop_replayed": "temporal_sagas.audit._processors",
    "operator_action": "temporal_sagas._client",
    "OperatorSigner": "temporal_sagas._client",
    "OperatorKeys": "temporal_sagas._operators",
    "saga_state": "temporal_sagas._client",
    "start_saga": "temporal_sagas._client",
    "current_idempotency_key": "temporal_sagas._context",
    "current_step": "temporal_sagas._context",
    "SAGA_ABORTED": "temporal_sagas._contract",
    "SAGA_COMPENSATED": "temporal_sagas._contract",
    "SAGA_COMPENSATION_FAILED": "temporal_sagas._contract",
    "SAGA_NAME": "temporal_sagas._contract",
    "SAGA_STATUS": "temporal_sagas._contract",
    "MissingExtraError": "temporal_sagas._extras",
    "NotInSagaActivityError": "temporal_sagas._errors",
    "OperatorActionRejected": "temporal_sagas._errors",
    "SagaDefinitionError": "temporal_sagas._errors",
    "SagaError": "temporal_sagas._errors",
    "SagaInputError": "temporal_sagas._errors",
    "SagaNotFoundError": "temporal_sagas._errors",
    "CompensationPolicy": "temporal_sagas._models",
    "CompensationRecord": "temporal_sagas._models",
    "CompensationReport": "temporal_sagas._models",
    "CompensationStatus": "temporal_sagas._models",
    "FailureInfo": "temporal_sagas._models",
    "OperatorAction": "temporal_sagas._models",
    "OperatorRequest": "temporal_sagas._models",
    "ProbeResult": "temporal_sagas._models",
    "SagaEvent": "temporal_sagas._models",
    "SagaEventKind": "temporal_sagas._models",
    "SagaState": "temporal_sagas._models",
    "SagaStatus": "temporal_sagas._models",
    "StepContext": "temporal_sagas._models",
    "StepRecord": "temporal_sagas._models",
    "StepStatus": "temporal_sagas._models",
    "idempotent": "temporal_sagas.activities._idempotent",
    "SagaApp": "temporal_sagas.workers._app",
    "EncryptionCodec": "temporal_sagas.workers._codec",
    "SagaPlugin": "temporal_sagas.workers._plugin",
    "saga_workflow": "temporal_sagas.workflows._declarative",
    "step": "temporal_sagas.workflows._declarative",
    "DefinitionSaga": "temporal_sagas.definitions._workflow",
    "DefinitionSagaInput": "temporal_sagas.definitions._workflow",
    "register_definition": "temporal_sagas.definitions._workflow",
    "StepOptions": "temporal_sagas.workflows._options",
    "Saga": "temporal_sagas.workflows._saga",
}

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
    "MissingExtraError",
    "NotInSagaActivityError",
    "OperatorAction",
    "OperatorActionRejected",
    "OperatorKeys",
    "OperatorRequest",
    "OperatorSigner",
    "ProbeResult",
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

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS)

if TYPE_CHECKING:
    from temporal_sagas._client import OperatorSigner, operator_action, saga_state, start_saga
    from temporal_sagas._context import current_idempotency_key, current_step
    from temporal_sagas._contract import (
        SAGA_ABORTED,
        SAGA_COMPENSATED,
        SAGA_COMPENSATION_FAILED,
        SAGA_NAME,
        SAGA_STATUS,
    )
    from temporal_sagas._errors import (
        NotInSagaActivityError,
        OperatorActionRejected,
        SagaDefinitionError,
        SagaError,
        SagaInputError,
        SagaNotFoundError,
    )
    from temporal_sagas._extras import MissingExtraError
    from temporal_sagas._models import (
        CompensationPolicy,
        CompensationRecord,
        CompensationReport,
        CompensationStatus,
        FailureInfo,
        OperatorAction,
        OperatorRequest,
        ProbeResult,
        SagaEvent,
        SagaEventKind,
        SagaState,
        SagaStatus,
        StepContext,
        StepRecord,
        StepStatus,
    )
    from temporal_sagas._operators import OperatorKeys
    from temporal_sagas.activities._idempotent import idempotent
    from temporal_sagas.audit._events import AuditEvent
    from temporal_sagas.audit._processors import Redactor, audit_processors, drop_replayed
    from temporal_sagas.audit._writer import flush_audit_log
    from temporal_sagas.definitions._workflow import (
        DefinitionSaga,
        DefinitionSagaInput,
        register_definition,
    )
    from temporal_sagas.workers._app import SagaApp
    from temporal_sagas.workers._codec import EncryptionCodec
    from temporal_sagas.workers._plugin import SagaPlugin
    from temporal_sagas.workflows._declarative import saga_workflow, step
    from temporal_sagas.workflows._options import StepOptions
    from temporal_sagas.workflows._saga import Saga
