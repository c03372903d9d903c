"""Pure functions from a Temporal history to the saga it records (no I/O but file reads).

`saga_state_from_history` returns the same `SagaState` the live ``saga_state``
query answers; `render_saga` draws it as a terminal timeline (rich is imported only
when it is first used, so reading histories stays light).
"""

from typing import TYPE_CHECKING

from temporal_sagas._lazy import lazy_attributes
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
from temporal_sagas.history._reconcile import reconcile_plan
from temporal_sagas.history._rescue import closed_as, rescue_plan

if TYPE_CHECKING:
    from temporal_sagas.history._render import render_saga

__getattr__, __dir__ = lazy_attributes(
    __name__, globals(), {"render_saga": "temporal_sagas.history._render"}
)

__all__ = [
    "Altered",
    "AuditVerification",
    "PlannedCompensation",
    "SagaHistoryError",
    "SagaHistoryView",
    "audit_trail",
    "closed_as",
    "compensation_plan",
    "dump_history",
    "history_file_name",
    "load_history",
    "rebuild",
    "reconcile_plan",
    "render_saga",
    "rescue_plan",
    "saga_state_from_history",
    "verify_log",
]
