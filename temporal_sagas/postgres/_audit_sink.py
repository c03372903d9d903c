"""Audit events as rows of a PostgreSQL table: the production audit sink."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import psycopg
from psycopg import sql

from temporal_sagas.activities._stores._base import check_identifier
from temporal_sagas.audit._events import AuditEvent
from temporal_sagas.postgres._schema import create_schema_sync

#: The default table of `PostgresAuditSink`.
DEFAULT_AUDIT_TABLE = "saga_audit"

_errors = logging.getLogger("temporal_sagas.audit.sinks")


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
        self._name, self._schema = name, schema
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
            create_schema_sync(
                conn,
                table=self._name,
                schema=self._schema,
                statements=[
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} ("
                        " seq bigserial, event_id text PRIMARY KEY, run_id text NOT NULL,"
                        " workflow_id text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,"
                        " hash text NOT NULL, prev_hash text, body text NOT NULL)"
                    ).format(self._table)
                ],
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
