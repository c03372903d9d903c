"""Code that runs in activity workers: step context, idempotency, the SQLite store.

PostgreSQL (its store and inbox, the outbox relay) is `temporal_sagas.postgres`;
audit sinks are `temporal_sagas.audit`.
"""

from temporal_sagas._context import current_idempotency_key, current_step, idempotency_headers
from temporal_sagas._contract import ACTION_RECORD_MISSING
from temporal_sagas.activities._idempotent import (
    DEFAULT_LEASE,
    DEFAULT_TTL,
    DEFAULT_WAIT,
    IdempotencyKeyBusyError,
    IdempotentDefinitionError,
    default_store,
    idempotent,
)
from temporal_sagas.activities._records import (
    action_record,
    refuse_void,
    release_closed_sagas,
    unowned_sagas,
)
from temporal_sagas.activities._stores import (
    DEFAULT_SQLITE_PATH,
    DEFAULT_TABLE,
    Claim,
    IdempotencyStore,
    IdempotencyStoreError,
    KeyRecord,
    SQLiteStore,
)

__all__ = [
    "ACTION_RECORD_MISSING",
    "DEFAULT_LEASE",
    "DEFAULT_SQLITE_PATH",
    "DEFAULT_TABLE",
    "DEFAULT_TTL",
    "DEFAULT_WAIT",
    "Claim",
    "IdempotencyKeyBusyError",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "IdempotentDefinitionError",
    "KeyRecord",
    "SQLiteStore",
    "action_record",
    "current_idempotency_key",
    "current_step",
    "default_store",
    "idempotency_headers",
    "idempotent",
    "refuse_void",
    "release_closed_sagas",
    "unowned_sagas",
]
