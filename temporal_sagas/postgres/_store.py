"""`PostgresStore`: key records in PostgreSQL (psycopg 3, async, pooled), and the inbox.

A claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement: the row
lock taken by the upsert makes it atomic, so of concurrent claims only one wins.
`PostgresStore.inbox` goes further: it takes the user's own connection, so the key
record and the business write commit in one transaction (exactly-once effect).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import pydantic_core
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter

from temporal_sagas.activities._idempotent import DEFAULT_TTL
from temporal_sagas.activities._records import held_for, refuse_void
from temporal_sagas.activities._stores._base import (
    COMPLETED,
    DEFAULT_TABLE,
    PENDING,
    Claim,
    IdempotencyStoreError,
    KeyRecord,
    check_identifier,
)
from temporal_sagas.postgres._schema import create_schema, unless_exists

T = TypeVar("T")

#: How often a claim re-reads a row that changed under it before answering ``busy``.
_CLAIM_ROUNDS = 5


def _expiry(now: float, ttl: timedelta, workflow_id: str | None) -> float | None:
    """When a record completed now expires: never while held for a saga, else after ``ttl``."""
    return None if workflow_id is not None else now + ttl.total_seconds()


class PostgresStore:
    """Idempotency records in PostgreSQL, for workers on several hosts.

    Args:
        conninfo: A libpq connection string or URL (ignored when ``pool`` is given).
        pool: An existing psycopg pool to use instead of creating one; its
            connections must be in autocommit mode or the store commits itself.
        table: The table holding the key records.
        schema: The schema of the table (default: the connection's search path).
        clock: Source of epoch seconds (tests pass a fake clock).
        min_size: Smallest size of the pool the store creates.
        max_size: Largest size of the pool the store creates.
        lease: How long an inbox claim would hold off a plain `claim` (the inbox
            itself relies on the row lock, not on the lease).
    """

    def __init__(
        self,
        conninfo: str = "",
        *,
        pool: AsyncConnectionPool[Any] | None = None,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        clock: Callable[[], float] = time.time,
        min_size: int = 1,
        max_size: int = 10,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        if pool is None and not conninfo:
            raise IdempotencyStoreError(
                "PostgresStore needs a connection string (conninfo=...) or a psycopg pool "
                "(pool=...)"
            )
        self._conninfo = conninfo
        self._pool = pool
        self._own_pool = pool is None
        self._min_size, self._max_size = min_size, max_size
        self._table_name = check_identifier("table", table)
        self.table: sql.Composable = (
            sql.Identifier(check_identifier("schema", schema), table)
            if schema
            else sql.Identifier(table)
        )
        self._schema = schema
        self._clock = clock
        self._lease = lease
        self._opened = False
        self._open_lock = asyncio.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the pool (when the store owns it) and create the table if needed."""
        if self._opened:
            return
        async with self._open_lock:
            if self._opened:
                return
            if self._pool is None:
                self._pool = AsyncConnectionPool(
                    self._conninfo,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs={"autocommit": True},
                    open=False,
                )
            if self._own_pool:
                await self._pool.open(wait=True)
            async with self._pool.connection() as conn:
                await self.create_table(conn)
            self._opened = True

    async def close(self) -> None:
        """Close the pool the store created (a pool passed in is left open)."""
        if self._own_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None
        self._opened = False

    async def create_table(self, conn: AsyncConnection[Any]) -> None:
        """Create the key-record table on ``conn`` (idempotent; for migrations).

        Safe to run from any number of processes at once: it runs under the table's
        advisory lock (`create_schema`).
        """
        index = f"{self._table_name}_held"
        await create_schema(
            conn,
            table=self._table_name,
            schema=self._schema,
            statements=[
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " key text PRIMARY KEY,"
                    " state text NOT NULL,"
                    " owner text,"
                    " result text,"
                    " lease_until double precision,"
                    " expires_at double precision,"
                    " updated_at double precision NOT NULL,"
                    " workflow_id text,"
                    " retention double precision)"
                ).format(self.table),
                # Tables from before records were held for their saga lack two columns
                # and the index (made last, so its presence means all is in place).
                unless_exists(
                    index,
                    self._schema,
                    [
                        sql.SQL(
                            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS workflow_id text,"
                            " ADD COLUMN IF NOT EXISTS retention double precision"
                        ).format(self.table),
                        sql.SQL(
                            "CREATE INDEX IF NOT EXISTS {} ON {} (workflow_id)"
                            " WHERE expires_at IS NULL"
                        ).format(sql.Identifier(index), self.table),
                    ],
                ),
            ],
        )

    async def _fetch(self, query: sql.Composable, params: dict[str, Any]) -> list[TupleRow]:
        await self.open()
        assert self._pool is not None  # set by open()
        # One statement per call: atomic on its own. The pool commits a connection
        # that is not in autocommit mode when the block ends.
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description else []

    # -- the store protocol -----------------------------------------------------------------

    async def claim(self, key: str, owner: str, *, lease: timedelta) -> Claim:
        """Claim ``key`` for ``owner`` (see `IdempotencyStore.claim`)."""
        upsert = sql.SQL(
            "INSERT INTO {t} AS r (key, state, owner, result, lease_until, expires_at, updated_at)"
            " VALUES (%(key)s, %(pending)s, %(owner)s, NULL, %(until)s, NULL, %(now)s)"
            " ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, owner = EXCLUDED.owner,"
            " result = NULL, lease_until = EXCLUDED.lease_until, expires_at = NULL,"
            " updated_at = EXCLUDED.updated_at, workflow_id = NULL, retention = NULL"
            " WHERE (r.state = %(pending)s AND r.lease_until <= %(now)s)"
            " OR (r.state = %(completed)s AND r.expires_at <= %(now)s)"
            " RETURNING 1"
        ).format(t=self.table)
        select = sql.SQL(
            "SELECT state, result, lease_until, expires_at FROM {t} WHERE key = %(key)s"
        ).format(t=self.table)
        for _ in range(_CLAIM_ROUNDS):
            now = self._clock()
            params = {
                "key": key,
                "owner": owner,
                "until": now + lease.total_seconds(),
                "now": now,
                "pending": PENDING,
                "completed": COMPLETED,
            }
            if await self._fetch(upsert, params):
                return Claim("claimed")
            rows = await self._fetch(select, params)
            if not rows:  # released between the two statements: claim again
                continue
            state, result, lease_until, expires_at = rows[0]
            if state == COMPLETED and (expires_at is None or expires_at > now):
                return Claim("completed", result=result)
            if state == PENDING and lease_until is not None and lease_until > now:
                return Claim("busy", lease_until=lease_until)
        return Claim("busy", lease_until=self._clock())

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
        now = self._clock()
        rows = await self._fetch(
            sql.SQL(
                "UPDATE {t} SET state = %(completed)s, result = %(result)s, lease_until = NULL,"
                " expires_at = %(expires)s, updated_at = %(now)s,"
                " workflow_id = %(workflow_id)s, retention = %(retention)s"
                " WHERE key = %(key)s AND owner = %(owner)s AND state = %(pending)s RETURNING 1"
            ).format(t=self.table),
            {
                "completed": COMPLETED,
                "pending": PENDING,
                "result": result,
                "expires": _expiry(now, ttl, workflow_id),
                "now": now,
                "workflow_id": workflow_id,
                "retention": ttl.total_seconds(),
                "key": key,
                "owner": owner,
            },
        )
        return bool(rows)

    async def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s pending claim of ``key``."""
        await self._fetch(
            sql.SQL(
                "DELETE FROM {t} WHERE key = %(key)s AND owner = %(owner)s AND state = %(pending)s"
            ).format(t=self.table),
            {"key": key, "owner": owner, "pending": PENDING},
        )

    async def get(self, key: str) -> KeyRecord | None:
        """Return the record of ``key``, or None."""
        rows = await self._fetch(
            sql.SQL(
                "SELECT key, state, owner, result, lease_until, expires_at, workflow_id"
                " FROM {t} WHERE key = %(key)s"
            ).format(t=self.table),
            {"key": key},
        )
        return KeyRecord(*rows[0]) if rows else None

    async def purge_expired(self) -> int:
        """Delete completed records past their TTL."""
        rows = await self._fetch(
            sql.SQL(
                "DELETE FROM {t} WHERE state = %(completed)s AND expires_at <= %(now)s RETURNING 1"
            ).format(t=self.table),
            {"completed": COMPLETED, "now": self._clock()},
        )
        return len(rows)

    async def held_sagas(self) -> list[str]:
        """The workflow ids whose completed records are held."""
        rows = await self._fetch(
            sql.SQL(
                "SELECT DISTINCT workflow_id FROM {t} WHERE state = %(completed)s"
                " AND expires_at IS NULL AND workflow_id IS NOT NULL ORDER BY workflow_id"
            ).format(t=self.table),
            {"completed": COMPLETED},
        )
        return [workflow_id for (workflow_id,) in rows]

    async def release_saga(self, workflow_id: str) -> int:
        """Start the TTL of ``workflow_id``'s held records (see `IdempotencyStore`)."""
        rows = await self._fetch(
            sql.SQL(
                "UPDATE {t} SET expires_at = %(now)s + COALESCE(retention, 0)"
                " WHERE workflow_id = %(workflow_id)s AND state = %(completed)s"
                " AND expires_at IS NULL RETURNING 1"
            ).format(t=self.table),
            {"now": self._clock(), "workflow_id": workflow_id, "completed": COMPLETED},
        )
        return len(rows)

    # -- the inbox ---------------------------------------------------------------------------

    @asynccontextmanager
    async def inbox(
        self, conn: AsyncConnection[Any], key: str, *, ttl: timedelta = DEFAULT_TTL
    ) -> AsyncIterator[InboxEntry]:
        """Record ``key`` in the same transaction as the caller's business write.

        Opens a transaction (a savepoint if one is open) on ``conn``, locks the key's
        record and yields an `InboxEntry`. When ``entry.completed`` is true, an earlier
        transaction already did the work: return ``entry.result(...)`` and write
        nothing. Otherwise do the business write on ``conn`` and call
        ``entry.record(result)``; the record and the write commit or roll back
        together. A concurrent holder of the same key blocks until this one ends.

        Inside a saga activity the record is held for the saga (it never expires
        while the saga is open); ``ttl`` counts from its release. Outside a saga it
        counts from now.

        A compensation opens the inbox of its *action's* key to see what to undo;
        when the action never committed, it calls `InboxEntry.void`, which refuses
        (the saga parks) when the action may have committed after all.

        Example:
            ```python
            async with store.inbox(conn, current_idempotency_key()) as entry:
                if entry.completed:
                    return entry.result(Receipt)
                await conn.execute("UPDATE accounts SET ...", ...)
                return entry.record(Receipt(...))
            ```

        Raises:
            IdempotencyStoreError: The block ended without `InboxEntry.record` on a
                key that was not completed (the transaction is rolled back).
        """
        await self.open()
        now = self._clock()
        owner = f"inbox-{uuid.uuid4().hex}"
        workflow_id = held_for()
        async with conn.transaction():
            # The insert waits on a concurrent uncommitted insert of the same key; the
            # SELECT ... FOR UPDATE then holds the row until this transaction ends.
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {t} (key, state, owner, result, lease_until, expires_at,"
                    " updated_at) VALUES (%s, %s, %s, NULL, %s, NULL, %s)"
                    " ON CONFLICT (key) DO NOTHING"
                ).format(t=self.table),
                (key, PENDING, owner, now + self._lease.total_seconds(), now),
            )
            cursor = await conn.execute(
                sql.SQL(
                    "SELECT state, result, expires_at FROM {t} WHERE key = %s FOR UPDATE"
                ).format(t=self.table),
                (key,),
            )
            state, stored, expires_at = (await cursor.fetchone()) or (None, None, None)
            live = expires_at is None or expires_at > now
            done = state == COMPLETED and live
            entry = InboxEntry(
                key,
                completed=done,
                stored=stored if done else None,
                expired_at=expires_at if state == COMPLETED and not live else None,
            )
            yield entry
            if entry.completed:
                return
            if entry.recorded is None:
                raise IdempotencyStoreError(
                    f"inbox block for key {key!r} ended without entry.record(result): call "
                    "it after the business write so the outcome commits with it"
                )
            await conn.execute(
                sql.SQL(
                    "UPDATE {t} SET state = %s, owner = %s, result = %s, lease_until = NULL,"
                    " expires_at = %s, updated_at = %s, workflow_id = %s, retention = %s"
                    " WHERE key = %s"
                ).format(t=self.table),
                (
                    COMPLETED,
                    owner,
                    entry.recorded,
                    _expiry(now, ttl, workflow_id),
                    now,
                    workflow_id,
                    ttl.total_seconds(),
                    key,
                ),
            )


class InboxEntry:
    """The key record inside an inbox transaction (see `PostgresStore.inbox`).

    Attributes:
        key: The idempotency key.
        completed: True when an earlier transaction already committed this key.
        expired_at: When a completed record existed but its TTL ran out: the epoch
            second it expired (the key then reads as not completed).
        recorded: The JSON outcome given to `record`, if any.
    """

    def __init__(
        self, key: str, *, completed: bool, stored: str | None, expired_at: float | None = None
    ) -> None:
        self.key = key
        self.completed = completed
        self.expired_at = expired_at
        self._stored = stored
        self.recorded: str | None = None

    def result(self, type_: type[T]) -> T:
        """Decode the outcome an earlier transaction recorded, as ``type_``.

        Raises:
            IdempotencyStoreError: The key is not completed.
        """
        if not self.completed or self._stored is None:
            raise IdempotencyStoreError(
                f"key {self.key!r} has no recorded outcome yet: check entry.completed first"
            )
        return TypeAdapter(type_).validate_json(self._stored)

    def record(self, value: T) -> T:
        """Set the outcome to commit with the business write; returns ``value``."""
        self.recorded = pydantic_core.to_json(value).decode()
        return value

    def void(self, value: T) -> T:
        """Record ``value`` under an action's key that never committed, from its compensation.

        The void takes the key, so a late attempt of the action (a zombie after a
        timeout) finds it completed and does nothing. Recording it is sound only
        when the missing record proves the action never committed; otherwise this
        raises and nothing is written.

        Raises:
            temporalio.exceptions.ApplicationError: Non-retryable, of type
                ``ActionRecordMissing``, naming the key: the action's record expired,
                or the saga saw the action complete (see `refuse_void`). The
                compensation fails for good and the saga parks.
        """
        refuse_void(self.key, expired_at=self.expired_at)
        return self.record(value)
