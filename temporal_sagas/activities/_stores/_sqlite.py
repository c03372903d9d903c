"""`SQLiteStore`: key records in a SQLite file, the embedded default.

The stdlib ``sqlite3`` module blocks, so every call runs in a worker thread
(``asyncio.to_thread``) on one connection guarded by a lock. Claims run inside
``BEGIN IMMEDIATE`` so that the read-decide-write of a claim holds SQLite's write
lock; that also makes claims atomic across processes sharing the file. The
database runs in WAL mode, so readers never block the writer.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from temporal_sagas.activities._stores._base import (
    COMPLETED,
    DEFAULT_TABLE,
    PENDING,
    Claim,
    KeyRecord,
    check_identifier,
)

T = TypeVar("T")

#: Where the default store keeps its file unless ``SAGAS_IDEMPOTENCY_DB`` says otherwise.
DEFAULT_SQLITE_PATH = Path(".sagas") / "idempotency.sqlite3"


class SQLiteStore:
    """Idempotency records in a SQLite file.

    Good for one machine: a worker and its activities, tests, the dev loop. Several
    worker processes on one host may share the file. For workers on several hosts,
    use `PostgresStore`.

    Args:
        path: The database file; its directory is created if needed.
        table: The table holding the key records.
        clock: Source of epoch seconds (tests pass a fake clock to expire leases
            and TTLs without waiting).
        busy_timeout: How long a write waits for another process's write lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_SQLITE_PATH,
        *,
        table: str = DEFAULT_TABLE,
        clock: Callable[[], float] = time.time,
        busy_timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        self.path = Path(path)
        self.table = check_identifier("table", table)
        self._clock = clock
        self._busy_timeout = busy_timeout.total_seconds()
        self._conn: sqlite3.Connection | None = None
        # One connection, one statement sequence at a time; SQLite serialises writers anyway.
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file, switch it to WAL mode and create the table if needed."""
        await self._run(lambda conn: None)

    async def close(self) -> None:
        """Close the connection; a later call opens it again."""

        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(close)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return fn(self._connection())

        return await asyncio.to_thread(call)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # used from worker threads, under self._lock
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._immediate(conn):  # one creator at a time across processes
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} ("
                    " key TEXT PRIMARY KEY,"
                    " state TEXT NOT NULL,"
                    " owner TEXT,"
                    " result TEXT,"
                    " lease_until REAL,"
                    " expires_at REAL,"
                    " updated_at REAL NOT NULL,"
                    " workflow_id TEXT,"
                    " retention REAL)"
                )
                # Tables from before records were held for their saga lack two columns.
                columns = {row[1] for row in conn.execute(f"PRAGMA table_info({self.table})")}
                for column, kind in (("workflow_id", "TEXT"), ("retention", "REAL")):
                    if column not in columns:
                        conn.execute(f"ALTER TABLE {self.table} ADD COLUMN {column} {kind}")
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_expires ON {self.table} (expires_at)"
                )
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_held"
                    f" ON {self.table} (workflow_id) WHERE expires_at IS NULL"
                )
            self._conn = conn
        return self._conn

    @staticmethod
    @contextmanager
    def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- the store protocol -----------------------------------------------------------------

    async def claim(self, key: str, owner: str, *, lease: timedelta) -> Claim:
        """Claim ``key`` for ``owner`` (see `IdempotencyStore.claim`)."""
        seconds = lease.total_seconds()

        def claim(conn: sqlite3.Connection) -> Claim:
            now = self._clock()
            with self._immediate(conn):
                row = conn.execute(
                    f"SELECT state, result, lease_until, expires_at FROM {self.table} "
                    "WHERE key = ?",
                    (key,),
                ).fetchone()
                if row is not None:
                    state, result, lease_until, expires_at = row
                    if state == COMPLETED and (expires_at is None or expires_at > now):
                        return Claim("completed", result=result)
                    if state == PENDING and lease_until is not None and lease_until > now:
                        return Claim("busy", lease_until=lease_until)
                conn.execute(
                    f"INSERT OR REPLACE INTO {self.table} "
                    "(key, state, owner, result, lease_until, expires_at, updated_at) "
                    "VALUES (?, ?, ?, NULL, ?, NULL, ?)",
                    (key, PENDING, owner, now + seconds, now),
                )
            return Claim("claimed")

        return await self._run(claim)

    async def complete(
        self,
        key: str,
        owner: str,
        result: str,
        *,
        ttl: timedelta,
        workflow_id: str | None = None,
    ) -> bool:
        """Record the outcome of ``owner``'s claim (see `IdempotencyStore.complete`)."""
        seconds = ttl.total_seconds()

        def complete(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            expires = None if workflow_id is not None else now + seconds
            cursor = conn.execute(
                f"UPDATE {self.table} SET state = ?, result = ?, lease_until = NULL,"
                " expires_at = ?, updated_at = ?, workflow_id = ?, retention = ?"
                " WHERE key = ? AND owner = ? AND state = ?",
                (COMPLETED, result, expires, now, workflow_id, seconds, key, owner, PENDING),
            )
            return cursor.rowcount == 1

        return await self._run(complete)

    async def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s pending claim of ``key``."""
        await self._run(
            lambda conn: conn.execute(
                f"DELETE FROM {self.table} WHERE key = ? AND owner = ? AND state = ?",
                (key, owner, PENDING),
            )
        )

    async def get(self, key: str) -> KeyRecord | None:
        """Return the record of ``key``, or None."""

        def get(conn: sqlite3.Connection) -> KeyRecord | None:
            row = conn.execute(
                f"SELECT key, state, owner, result, lease_until, expires_at, workflow_id"
                f" FROM {self.table} WHERE key = ?",
                (key,),
            ).fetchone()
            return None if row is None else KeyRecord(*row)

        return await self._run(get)

    async def purge_expired(self) -> int:
        """Delete completed records past their TTL."""

        def purge(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                f"DELETE FROM {self.table} WHERE state = ? AND expires_at <= ?",
                (COMPLETED, self._clock()),
            )
            return cursor.rowcount

        return await self._run(purge)

    async def held_sagas(self) -> list[str]:
        """The workflow ids whose completed records are held."""

        def held(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                f"SELECT DISTINCT workflow_id FROM {self.table} WHERE state = ?"
                " AND expires_at IS NULL AND workflow_id IS NOT NULL ORDER BY workflow_id",
                (COMPLETED,),
            ).fetchall()
            return [workflow_id for (workflow_id,) in rows]

        return await self._run(held)

    async def release_saga(self, workflow_id: str) -> int:
        """Start the TTL of ``workflow_id``'s held records (see `IdempotencyStore`)."""

        def release(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                f"UPDATE {self.table} SET expires_at = ? + COALESCE(retention, 0)"
                " WHERE workflow_id = ? AND state = ? AND expires_at IS NULL",
                (self._clock(), workflow_id, COMPLETED),
            )
            return cursor.rowcount

        return await self._run(release)
