"""Idempotency stores: the protocol and SQLite (the embedded default).

The PostgreSQL store lives in `temporal_sagas.postgres`, behind its extra; it keeps
the same protocol and passes the same contract suite.
"""

from temporal_sagas.activities._stores._base import (
    DEFAULT_TABLE,
    Claim,
    IdempotencyStore,
    IdempotencyStoreError,
    KeyRecord,
)
from temporal_sagas.activities._stores._sqlite import DEFAULT_SQLITE_PATH, SQLiteStore

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "DEFAULT_TABLE",
    "Claim",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "KeyRecord",
    "SQLiteStore",
]
