"""The transactional outbox: an app writes a row with its business change; a relay starts the saga.

The app inserts the row with `enqueue_saga` on its own connection, inside the
transaction that makes its business change, so either both commit or neither does.
The relay (`relay_once`, `run_relay`, ``sagas outbox relay``) takes unsent rows one
at a time with ``FOR UPDATE SKIP LOCKED``, starts the saga whose workflow id derives
from the row's key, and marks the row sent in the same transaction.

Exactly one saga per row, even across crashes: a relay that dies after starting the
saga and before marking the row leaves the row unsent, and the next relay starts
it again under the same workflow id. A running saga is then returned as it is
(``USE_EXISTING``), and a closed one is never run again (``REJECT_DUPLICATE`` by
default): the relay takes ``WorkflowAlreadyStartedError`` as "already done".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from datetime import timedelta
from typing import Any

import pydantic_core
import structlog
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from temporal_sagas._client import start_saga
from temporal_sagas.activities._stores._base import check_identifier
from temporal_sagas.postgres._schema import create_schema, unless_exists

#: Default name of the outbox table.
DEFAULT_OUTBOX_TABLE = "sagas_outbox"

_log = structlog.get_logger("temporal_sagas.outbox")


class OutboxRow(BaseModel):
    """One saga to start, as an app wrote it.

    Attributes:
        id: Insertion order (ordering within an aggregate follows it).
        key: The business key; the saga's workflow id is the relay's prefix + key.
        saga: The saga's workflow type name.
        task_queue: The task queue of the saga's workers.
        payload: The saga's input, as JSON.
        aggregate_key: Rows sharing it run one saga at a time, in id order, when
            the relay is ordered; None for unordered rows.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    key: str
    saga: str
    task_queue: str
    payload: Any
    aggregate_key: str | None = None


class RelayReport(BaseModel):
    """What one relay pass did.

    Attributes:
        started: Rows whose saga this pass started (or found running) and marked sent.
        already_closed: Rows whose saga had already run and closed; marked sent.
        failed: Rows whose start failed; left unsent, ``last_error`` says why.
        waiting: Ordered rows held back because their aggregate's previous saga runs.
        refused: Rows naming a saga or task queue not on the relay's allow-list; left
            unsent, ``last_error`` says which.
    """

    model_config = ConfigDict(frozen=True)

    started: int = 0
    already_closed: int = 0
    failed: int = 0
    waiting: int = 0
    refused: int = 0

    @property
    def sent(self) -> int:
        """Rows marked sent by this pass."""
        return self.started + self.already_closed


def _table(table: str, schema: str | None) -> sql.Composable:
    check_identifier("table", table)
    if schema:
        return sql.Identifier(check_identifier("schema", schema), table)
    return sql.Identifier(table)


async def create_outbox_table(
    conn: AsyncConnection[Any], *, table: str = DEFAULT_OUTBOX_TABLE, schema: str | None = None
) -> None:
    """Create the outbox table and its index if they do not exist (idempotent).

    Any number of relays and apps may call it at once on an empty database: it runs
    under the table's advisory lock (`create_schema`).
    """
    name = _table(table, schema)
    await create_schema(
        conn,
        table=table,
        schema=schema,
        statements=[
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} ("
                " id bigserial PRIMARY KEY,"
                " key text NOT NULL UNIQUE,"
                " saga text NOT NULL,"
                " task_queue text NOT NULL,"
                " payload jsonb NOT NULL,"
                " aggregate_key text,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " sent_at timestamptz,"
                " workflow_id text,"
                " run_id text,"
                " attempts integer NOT NULL DEFAULT 0,"
                " last_error text)"
            ).format(t=name),
            # Only when missing: even a no-op CREATE INDEX waits for open enqueues.
            unless_exists(
                f"{table}_unsent",
                schema,
                [
                    sql.SQL(
                        "CREATE INDEX IF NOT EXISTS {i} ON {t} (id) WHERE sent_at IS NULL"
                    ).format(i=sql.Identifier(f"{table}_unsent"), t=name)
                ],
            ),
        ],
    )


async def enqueue_saga(
    conn: AsyncConnection[Any],
    *,
    key: str,
    saga: str,
    payload: Any,
    task_queue: str,
    aggregate_key: str | None = None,
    table: str = DEFAULT_OUTBOX_TABLE,
    schema: str | None = None,
) -> bool:
    """Write an outbox row on the app's connection, inside the app's transaction.

    Args:
        conn: The app's connection; call this inside the transaction that makes the
            business change, so the row commits exactly when the change does.
        key: The business key (unique per row); the saga's workflow id derives from it.
        saga: The saga's workflow type name.
        payload: The saga's input (a pydantic model, dict, ...; stored as JSON).
        task_queue: The task queue of the saga's workers.
        aggregate_key: Rows with the same aggregate key run in order when the relay
            is ordered.
        table: The outbox table.
        schema: The outbox table's schema.

    Returns:
        True when the row was written, False when a row with this key already existed.
    """
    cursor = await conn.execute(
        sql.SQL(
            "INSERT INTO {t} (key, saga, task_queue, payload, aggregate_key)"
            " VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (key) DO NOTHING"
        ).format(t=_table(table, schema)),
        (key, saga, task_queue, pydantic_core.to_json(payload).decode(), aggregate_key),
    )
    return cursor.rowcount == 1


class OutboxRelay:
    """Starts one saga per unsent outbox row, exactly once per row.

    Several relays may run against one table: each row is locked while it is
    handled, and the others skip it.

    Args:
        client: A Temporal client connected with `SagaPlugin`.
        pool: A psycopg pool on the database holding the outbox table.
        table: The outbox table.
        schema: The outbox table's schema.
        id_prefix: Prepended to a row's key to make the workflow id.
        ordered: Run rows of one aggregate key one saga at a time, in id order: a
            row waits until the saga of the aggregate's previous row has closed.
        batch_size: The most rows one `relay_once` pass handles.
        id_reuse_policy: What a start does when a closed saga already has the id.
            The default never runs a closed saga again, whatever its outcome.
        pause_after_start: Fault injection for tests: sleep this many seconds after
            starting a saga and before marking its row (a crash window on purpose).
        allowed_sagas: The saga (workflow type) names rows may start; None allows any.
            Whoever can insert a row can otherwise start any workflow type on any
            task queue the relay's client may use.
        allowed_task_queues: The task queues rows may start sagas on; None allows any.
    """

    def __init__(
        self,
        client: Client,
        pool: AsyncConnectionPool[Any],
        *,
        table: str = DEFAULT_OUTBOX_TABLE,
        schema: str | None = None,
        id_prefix: str = "",
        ordered: bool = False,
        batch_size: int = 100,
        id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
        pause_after_start: float = 0.0,
        allowed_sagas: Collection[str] | None = None,
        allowed_task_queues: Collection[str] | None = None,
    ) -> None:
        self._client = client
        self._sagas = frozenset(allowed_sagas) if allowed_sagas is not None else None
        self._queues = frozenset(allowed_task_queues) if allowed_task_queues is not None else None
        self._pool = pool
        self._table = _table(table, schema)
        self._id_prefix = id_prefix
        self._ordered = ordered
        self._batch_size = batch_size
        self._reuse = id_reuse_policy
        self._pause = pause_after_start

    async def relay_once(self) -> RelayReport:
        """Handle up to ``batch_size`` eligible rows, each in its own transaction."""
        counts = {"started": 0, "already_closed": 0, "failed": 0, "waiting": 0, "refused": 0}
        skip: list[int] = []
        for _ in range(self._batch_size):
            outcome = await self._relay_next(skip)
            if outcome is None:
                break
            counts[outcome] += 1
        return RelayReport(**counts)

    async def run(
        self, *, interval: timedelta = timedelta(seconds=1), stop: asyncio.Event | None = None
    ) -> None:
        """Relay passes until ``stop`` is set, sleeping ``interval`` when idle."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            report = await self.relay_once()
            if report.sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval.total_seconds())

    async def _relay_next(self, skip: list[int]) -> str | None:
        async with self._pool.connection() as conn, conn.transaction():
            row = await self._next_row(conn, skip)
            if row is None:
                return None
            skip.append(row.id)
            refusal = self._refusal(row)
            if refusal is not None:
                _log.warning("outbox.refused", key=row.key, reason=refusal)
                await self._mark_failed(conn, row, refusal)
                return "refused"
            if self._ordered and await self._previous_running(conn, row):
                return "waiting"
            workflow_id = f"{self._id_prefix}{row.key}"
            outcome = "started"
            try:
                handle = await start_saga(
                    self._client,
                    row.saga,
                    row.payload,
                    id=workflow_id,
                    task_queue=row.task_queue,
                    id_reuse_policy=self._reuse,
                )
                run_id = handle.result_run_id
            except WorkflowAlreadyStartedError as err:
                outcome, run_id = "already_closed", err.run_id
            except Exception as err:  # recorded on the row; the next pass tries again
                _log.warning("outbox.start_failed", key=row.key, error=repr(err))
                await self._mark_failed(conn, row, repr(err))
                return "failed"
            _log.info("outbox.started", key=row.key, workflow_id=workflow_id, outcome=outcome)
            if self._pause:
                await asyncio.sleep(self._pause)
            await conn.execute(
                sql.SQL(
                    "UPDATE {t} SET sent_at = now(), workflow_id = %s, run_id = %s,"
                    " attempts = attempts + 1, last_error = NULL WHERE id = %s"
                ).format(t=self._table),
                (workflow_id, run_id, row.id),
            )
            return outcome

    def _refusal(self, row: OutboxRow) -> str | None:
        """Why ``row`` may not start its saga here, or None."""
        if self._sagas is not None and row.saga not in self._sagas:
            return f"refused: saga {row.saga!r} is not on the relay's allow-list"
        if self._queues is not None and row.task_queue not in self._queues:
            return f"refused: task queue {row.task_queue!r} is not on the relay's allow-list"
        return None

    async def _next_row(self, conn: AsyncConnection[Any], skip: list[int]) -> OutboxRow | None:
        ordered = (
            sql.SQL(
                " AND NOT EXISTS (SELECT 1 FROM {t} p WHERE p.aggregate_key = o.aggregate_key"
                " AND p.sent_at IS NULL AND p.id < o.id)"
            ).format(t=self._table)
            if self._ordered
            else sql.SQL("")
        )
        cursor = await conn.execute(
            sql.SQL(
                "SELECT o.id, o.key, o.saga, o.task_queue, o.payload, o.aggregate_key FROM {t} o"
                " WHERE o.sent_at IS NULL AND NOT (o.id = ANY(%s)){ordered}"
                " ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED"
            ).format(t=self._table, ordered=ordered),
            (skip,),
        )
        found = await cursor.fetchone()
        if found is None:
            return None
        fields = ("id", "key", "saga", "task_queue", "payload", "aggregate_key")
        return OutboxRow(**dict(zip(fields, found, strict=True)))

    async def _previous_running(self, conn: AsyncConnection[Any], row: OutboxRow) -> bool:
        if row.aggregate_key is None:
            return False
        cursor = await conn.execute(
            sql.SQL(
                "SELECT workflow_id FROM {t} WHERE aggregate_key = %s AND id < %s"
                " AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).format(t=self._table),
            (row.aggregate_key, row.id),
        )
        previous = await cursor.fetchone()
        if previous is None or previous[0] is None:
            return False
        description = await self._client.get_workflow_handle(previous[0]).describe()
        return description.status == WorkflowExecutionStatus.RUNNING

    async def _mark_failed(self, conn: AsyncConnection[Any], row: OutboxRow, error: str) -> None:
        await conn.execute(
            sql.SQL("UPDATE {t} SET attempts = attempts + 1, last_error = %s WHERE id = %s").format(
                t=self._table
            ),
            (error, row.id),
        )


async def relay_once(client: Client, pool: AsyncConnectionPool[Any], **options: Any) -> RelayReport:
    """Run one relay pass; ``options`` are those of `OutboxRelay`."""
    return await OutboxRelay(client, pool, **options).relay_once()


async def run_relay(
    client: Client,
    pool: AsyncConnectionPool[Any],
    *,
    interval: timedelta = timedelta(seconds=1),
    stop: asyncio.Event | None = None,
    **options: Any,
) -> None:
    """Relay until ``stop`` is set; ``options`` are those of `OutboxRelay`."""
    await OutboxRelay(client, pool, **options).run(interval=interval, stop=stop)
