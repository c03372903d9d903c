"""Pure functions from a Temporal history to the saga it records (no I/O but file reads).

`saga_state_from_history` returns the same `SagaState` the live ``saga_state``
query answers; `render_saga` draws it as a terminal timeline.
"""

from temporal_sagas.history._audit import (
    Altered,
    AuditVerification,
    audit_trail,
    verify_log,
)
from temporal_sagas.history._files import (
    SagaHistoryError,
    dump_history,
    history_file_name,
    load_history,
)
from temporal_sagas.history._plan import PlannedCompensation, compensation_plan
from temporal_sagas.history._rebuild import SagaHistoryView, rebuild, saga_state_from_history
from temporal_sagas.history._render import render_saga

__all__ = [
    "Altered",
    "AuditVerification",
    "PlannedCompensation",
    "SagaHistoryError",
    "SagaHistoryView",
    "audit_trail",
    "compensation_plan",
    "dump_history",
    "history_file_name",
    "load_history",
    "rebuild",
    "render_saga",
    "saga_state_from_history",
    "verify_log",
]
