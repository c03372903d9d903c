"""Audit logging: events, the writer thread, log processors and the file sink.

Every saga transition is one structlog event, emitted once from workflow code (never
again on replay). This package holds what turns those events into an audit trail:

- `AuditEvent`: one event, with its id, hash chain and canonical JSON;
- `flush_audit_log`: wait for the writer thread that takes events off workflow threads;
- `drop_replayed`, `Redactor`, `audit_processors`: the structlog processors a worker's
  log chain starts with;
- `AuditSinkProcessor`, `JsonlAuditSink`, `read_jsonl`, `reconcile`: sinks, and making a
  sink hold exactly what a history says. The PostgreSQL table sink is
  `temporal_sagas.postgres.PostgresAuditSink`.
"""

from temporal_sagas.audit._events import AuditEvent
from temporal_sagas.audit._processors import (
    DEFAULT_REDACTED_KEYS,
    Redactor,
    audit_processors,
    drop_replayed,
)
from temporal_sagas.audit._seal import ENV_AUDIT_KEYS, AuditKeyError, AuditSealer
from temporal_sagas.audit._sinks import (
    AuditSink,
    AuditSinkError,
    AuditSinkProcessor,
    JsonlAuditSink,
    ReconcileReport,
    read_jsonl,
    reconcile,
)
from temporal_sagas.audit._writer import flush_audit_log

__all__ = [
    "DEFAULT_REDACTED_KEYS",
    "ENV_AUDIT_KEYS",
    "AuditEvent",
    "AuditKeyError",
    "AuditSealer",
    "AuditSink",
    "AuditSinkError",
    "AuditSinkProcessor",
    "JsonlAuditSink",
    "ReconcileReport",
    "Redactor",
    "audit_processors",
    "drop_replayed",
    "flush_audit_log",
    "read_jsonl",
    "reconcile",
]
