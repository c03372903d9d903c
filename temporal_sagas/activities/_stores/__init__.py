"""Idempotency stores: the protocol, SQLite (embedded default) and PostgreSQL."""

from temporal_sagas.activities._stores._base import (
    DEFAULT_TABLE,
    Claim,
    IdempotencyStore,
    IdempotencyStoreError,
    KeyRecord,
)
from temporal_sagas.activities._stores._postgres import InboxEntry, PostgresStore
from temporal_sagas.activities._stores._sqlite import DEFAULT_SQLITE_PATH, SQLiteStore

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "DEFAULT_TABLE",
    "Claim",
    "IdempotencyStore",
    "IdempotencyStoreError",
    "InboxEntry",
    "KeyRecord",
    "PostgresStore",
    "SQLiteStore",
]
