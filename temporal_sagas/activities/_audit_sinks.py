"""Audit sinks in the worker process: a JSON-lines file and a PostgreSQL table.

The engine logs each saga transition once, with structlog, from workflow code.
`AuditSinkProcessor` is a structlog processor that hands those events (and only
those) to the sinks, in real time and best effort: a sink error is reported on the
standard ``logging`` stream and never reaches the workflow. Both sinks keep each
event id once. `reconcile` then makes a sink hold exactly a run's history-derived
trail: it adds what is missing, replaces what differs, and removes events of that
run the history does not have (emitted in a workflow task that never completed).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql

from temporal_sagas._audit import AUDIT_MARKER, AuditEvent
from temporal_sagas._errors import SagaError
from temporal_sagas.activities._stores._base import check_identifier

#: The default PostgreSQL table of `PostgresAuditSink`.
DEFAULT_AUDIT_TABLE = "saga_audit"

_errors = logging.getLogger("temporal_sagas.audit.sinks")


class AuditSinkError(SagaError):
    """An audit sink could not be read or written."""


@dataclass(frozen=True)
class ReconcileReport:
    """What `reconcile` changed in a sink for one saga run.

    Attributes:
        added: Event ids that were missing and were written.
        replaced: Event ids whose stored form differed and was rewritten.
        removed: Event ids of the run that the history does not hold.
    """

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class AuditSink(Protocol):
    """Somewhere audit events go; each event id is kept once."""

    def write(self, event: AuditEvent) -> None:
        """Store ``event`` unless its id is already stored."""

    def stored(self, run_id: str) -> list[AuditEvent]:
        """The events of one saga run, in the order stored."""

    def replace_run(self, run_id: str, events: list[AuditEvent]) -> None:
        """Make the run's stored events exactly ``events``."""


class AuditSinkProcessor:
    """A structlog processor that writes saga audit events to sinks, best effort.

    Place it after the redaction processor and before the renderer. Other events
    pass through untouched; audit events also continue to the renderer.

    Args:
        sinks: Where audit events go.
    """

    def __init__(self, *sinks: AuditSink) -> None:
        self.sinks = sinks

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Write the event to every sink when it is an audit event."""
        if event_dict.get(AUDIT_MARKER) is True:
            try:
                event = AuditEvent.from_log_fields(event_dict)
            except ValueError as err:
                _errors.warning("malformed saga audit event dropped by the sinks: %s", err)
                return event_dict
            for sink in self.sinks:
                try:
                    sink.write(event)
                except Exception as err:  # best effort: reconcile() fills the gap later
                    _errors.warning(
                        "audit sink %s failed on %s: %s", type(sink).__name__, event.event_id, err
                    )
        return event_dict


class JsonlAuditSink:
    """Audit events as JSON lines in a file, each event id once.

    The ids already in the file are read on first write, so a restarted worker
    does not repeat an event its predecessor wrote. Each write appends one line and
    flushes it; the file is opened per write so `reconcile` may rewrite it.

    Args:
        path: The file; created with its directory when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ids: set[str] | None = None

    def write(self, event: AuditEvent) -> None:
        """Append ``event`` unless its id is already in the file."""
        with self._lock:
            ids = self._known_ids()
            if event.event_id in ids:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(event.canonical_json() + "\n")
            ids.add(event.event_id)

    def stored(self, run_id: str) -> list[AuditEvent]:
        """The events of ``run_id`` in the file, in file order."""
        return [e for e in (_parse(line) for line in self._lines()) if e and e.run_id == run_id]

    def replace_run(self, run_id: str, events: list[AuditEvent]) -> None:
        """Rewrite the file with ``events`` in place of the run's lines (atomically)."""
        with self._lock:
            kept: list[str] = []
            placed = False
            for line in self._lines():
                parsed = _parse(line)
                if parsed is None or parsed.run_id != run_id:
                    kept.append(line)
                elif not placed:
                    kept.extend(e.canonical_json() for e in events)
                    placed = True
            if not placed:
                kept.extend(e.canonical_json() for e in events)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.reconcile")
            scratch.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            os.replace(scratch, self.path)
            self._ids = None

    def _known_ids(self) -> set[str]:
        if self._ids is None:
            self._ids = {e.event_id for e in (_parse(line) for line in self._lines()) if e}
        return self._ids

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]


class PostgresAuditSink:
    """Audit events as rows of a PostgreSQL table, one per event id.

    Real-time writes go through a background thread, so a slow database never
    holds up a workflow task; `flush` waits for them. The table is created on
    first use.

    Args:
        conninfo: A libpq connection string or URL.
        table: The table name.
        schema: Its schema (default: the connection's search path).
    """

    def __init__(
        self, conninfo: str, *, table: str = DEFAULT_AUDIT_TABLE, schema: str | None = None
    ) -> None:
        self.conninfo = conninfo
        name = check_identifier("table", table)
        self._table = (
            sql.Identifier(check_identifier("schema", schema), name)
            if schema
            else sql.Identifier(name)
        )
        self._queue: queue.Queue[AuditEvent | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._created = False

    def write(self, event: AuditEvent) -> None:
        """Queue ``event`` for the background writer (``ON CONFLICT DO NOTHING``)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name="saga-audit-postgres", daemon=True
                )
                self._thread.start()
        self._queue.put(event)

    def flush(self) -> None:
        """Wait until every queued event was written (or failed and was reported)."""
        self._queue.join()

    def close(self) -> None:
        """Flush and stop the background writer."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._thread = None

    def stored(self, run_id: str) -> list[AuditEvent]:
        """The events of ``run_id`` in the table, in event order."""
        with self._connect() as conn:
            rows = conn.execute(
                sql.SQL("SELECT body FROM {} WHERE run_id = %s ORDER BY seq").format(self._table),
                (run_id,),
            ).fetchall()
        return [AuditEvent.model_validate_json(body) for (body,) in rows]

    def replace_run(self, run_id: str, events: list[AuditEvent]) -> None:
        """Make the run's rows exactly ``events``, in one transaction."""
        with self._connect() as conn, conn.transaction():
            conn.execute(sql.SQL("DELETE FROM {} WHERE run_id = %s").format(self._table), (run_id,))
            for event in events:
                self._insert(conn, event)

    def drop_table(self) -> None:
        """Drop the table (tests, teardown)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table))
        self._created = False

    def _drain(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                if conn is None or conn.closed:
                    conn = self._connect()
                self._insert(conn, event)
            except Exception as err:  # best effort: reconcile() fills the gap later
                _errors.warning(
                    "audit table write failed for %s: %s", getattr(event, "event_id", "?"), err
                )
                if conn is not None:
                    conn.close()
                conn = None
            finally:
                self._queue.task_done()
                if event is None and conn is not None:
                    conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.conninfo, autocommit=True)
        if not self._created:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " seq bigserial, event_id text PRIMARY KEY, run_id text NOT NULL,"
                    " workflow_id text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,"
                    " hash text NOT NULL, prev_hash text, body text NOT NULL)"
                ).format(self._table)
            )
            self._created = True
        return conn

    def _insert(self, conn: psycopg.Connection[Any], event: AuditEvent) -> None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (event_id, run_id, workflow_id, kind, at, hash, prev_hash, body)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
            ).format(self._table),
            (
                event.event_id,
                event.run_id,
                event.workflow_id,
                event.kind.value,
                event.at,
                event.hash,
                event.prev_hash,
                event.canonical_json(),
            ),
        )


def reconcile(sink: AuditSink, trail: list[AuditEvent]) -> ReconcileReport:
    """Make ``sink`` hold exactly ``trail`` for its saga run (idempotent, by event id).

    Args:
        sink: The sink to repair.
        trail: The run's events from its history (`temporal_sagas.history.audit_trail`).
    """
    if not trail:
        return ReconcileReport()
    run_id = trail[0].run_id
    stored = {e.event_id: e for e in sink.stored(run_id)}
    order = [e.event_id for e in sink.stored(run_id)]
    wanted = {e.event_id: e for e in trail}
    report = ReconcileReport(
        added=tuple(i for i in wanted if i not in stored),
        replaced=tuple(i for i in wanted if i in stored and stored[i] != wanted[i]),
        removed=tuple(i for i in stored if i not in wanted),
    )
    in_order = order == list(wanted)
    if report.added or report.replaced or report.removed or not in_order:
        sink.replace_run(run_id, trail)
    return report


def _parse(line: str) -> AuditEvent | None:
    try:
        raw = json.loads(line)
        return AuditEvent.model_validate(raw) if isinstance(raw, dict) else None
    except ValueError:
        return None


def read_jsonl(lines: Iterable[str]) -> list[AuditEvent]:
    """Parse audit events from JSON lines, skipping lines that are not audit events."""
    return [e for e in (_parse(line) for line in lines if line.strip()) if e is not None]
