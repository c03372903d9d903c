"""Create tables under a PostgreSQL advisory lock, so any number of processes may start at once.

``CREATE TABLE IF NOT EXISTS`` is not safe against itself: two sessions that both find
the table missing both insert it into the system catalogue, and the loser fails on a
duplicate key there (``pg_type_typname_nsp_index``). Workers, relays and audit sinks
start side by side on a fresh database, so every piece of DDL this package runs goes
through `create_schema`: it takes a transaction-scoped advisory lock whose key derives
from the qualified table name, then runs the statements in that transaction. The
second session waits for the first to commit, then finds everything in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

_LOCK_NAMESPACE = "temporal_sagas.schema:"
_TAKE_LOCK = "SELECT pg_advisory_xact_lock(%s)"


def schema_lock_key(name: str) -> int:
    """The advisory lock key of ``name`` (a table or schema): a stable signed 64-bit integer.

    Derived from a hash rather than Python's ``hash`` so that every process, on every
    host and interpreter, computes the same key for the same name.
    """
    digest = hashlib.sha256(f"{_LOCK_NAMESPACE}{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_keys(table: str, schema: str | None) -> list[int]:
    # The schema's lock first, the table's second, always in that order: two creators of
    # different tables in one new schema serialise on CREATE SCHEMA without deadlocking.
    if schema:
        return [schema_lock_key(f"schema {schema}"), schema_lock_key(f"{schema}.{table}")]
    return [schema_lock_key(table)]


def _statements(schema: str | None, statements: Sequence[sql.Composed]) -> list[sql.Composed]:
    head: list[sql.Composed] = []
    if schema:
        head.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return head + list(statements)


def unless_exists(
    relation: str, schema: str | None, statements: Sequence[sql.Composed]
) -> sql.Composed:
    """One statement running ``statements`` only when ``relation`` does not exist yet.

    For DDL on a table that may be busy: ``CREATE INDEX IF NOT EXISTS`` and ``ALTER
    TABLE`` lock the table against writes even when there is nothing to do, so a worker
    starting beside busy ones would wait for their open transactions and hold up new
    ones. Make ``relation`` (an index, say) the last thing the statements create.
    """
    name = f'"{schema}"."{relation}"' if schema else f'"{relation}"'
    body = sql.SQL(" ").join(sql.SQL("{};").format(statement) for statement in statements)
    return sql.SQL("DO $$ BEGIN IF to_regclass({}) IS NULL THEN {} END IF; END $$").format(
        sql.Literal(name), body
    )


async def create_schema(
    conn: AsyncConnection[Any],
    *,
    table: str,
    schema: str | None,
    statements: Sequence[sql.Composed],
) -> None:
    """Run ``statements`` (``IF NOT EXISTS`` DDL) under the advisory lock of ``table``.

    One transaction (a savepoint when ``conn`` is already in one, in which case the lock
    is held until that outer transaction ends): lock, create the schema when given, run
    the statements, commit.

    Args:
        conn: The connection to run on.
        table: The table the statements create: its name keys the lock.
        schema: The table's schema, created first when given; None: the search path.
        statements: The DDL, each idempotent (``IF NOT EXISTS``).
    """
    async with conn.transaction():
        for key in _lock_keys(table, schema):
            await conn.execute(_TAKE_LOCK, (key,))
        for statement in _statements(schema, statements):
            await conn.execute(statement)


def create_schema_sync(
    conn: psycopg.Connection[Any],
    *,
    table: str,
    schema: str | None,
    statements: Sequence[sql.Composed],
) -> None:
    """`create_schema` for a synchronous connection (the audit sink's writer thread)."""
    with conn.transaction():
        for key in _lock_keys(table, schema):
            conn.execute(_TAKE_LOCK, (key,))
        for statement in _statements(schema, statements):
            conn.execute(statement)
