"""``sagas outbox``: create the outbox table and relay its rows to Temporal as sagas."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from typing import Any

import click

from temporal_sagas._extras import require
from temporal_sagas.cli._connection import connect, connection_from, connection_options


@click.group()
def outbox() -> None:
    """The transactional outbox: rows an app wrote become sagas, once each."""


_dsn = click.option(
    "--dsn",
    envvar="SAGAS_OUTBOX_DSN",
    required=True,
    help="PostgreSQL connection string of the database holding the outbox table.",
)
_table = click.option("--table", default="sagas_outbox", show_default=True)
_schema = click.option("--schema", default=None, help="Schema of the outbox table.")


@outbox.command("init")
@_dsn
@_table
@_schema
def init(dsn: str, table: str, schema: str | None) -> None:
    """Create the outbox table if it does not exist."""
    require("sagas outbox", "postgres", "psycopg", "psycopg_pool")

    async def create() -> None:
        from psycopg import AsyncConnection

        from temporal_sagas.postgres import create_outbox_table

        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            await create_outbox_table(conn, table=table, schema=schema)

    asyncio.run(create())
    click.echo(f"outbox table {table!r} is ready")


@outbox.command("relay")
@_dsn
@_table
@_schema
@click.option("--id-prefix", default="", help="Prepended to a row's key to form the workflow id.")
@click.option("--ordered", is_flag=True, help="One saga at a time per aggregate key, in order.")
@click.option("--once", is_flag=True, help="Relay every eligible row, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between idle polls.")
@click.option("--batch-size", default=100, show_default=True)
@click.option(
    "--pause-after-start",
    envvar="SAGAS_OUTBOX_PAUSE_AFTER_START",
    default=0.0,
    hidden=True,  # fault injection: widens the crash window between start and mark
)
@click.option(
    "--allow-saga",
    "allow_sagas",
    multiple=True,
    help="A saga (workflow type) rows may start. Repeatable. [required, or --allow-any-saga]",
)
@click.option(
    "--allow-task-queue",
    "allow_queues",
    multiple=True,
    help="A task queue rows may start sagas on. Repeatable. [default: any]",
)
@click.option(
    "--allow-any-saga",
    is_flag=True,
    help="Let rows start any workflow type (only for a table only trusted code writes).",
)
@connection_options
def relay(
    dsn: str,
    table: str,
    schema: str | None,
    id_prefix: str,
    ordered: bool,
    once: bool,
    interval: float,
    batch_size: int,
    pause_after_start: float,
    allow_sagas: tuple[str, ...],
    allow_queues: tuple[str, ...],
    allow_any_saga: bool,
    **flags: Any,
) -> None:
    """Start one saga per unsent outbox row and mark the row sent.

    Safe to run several at once and to kill at any moment: a row whose saga was
    started but not marked is started again under the same workflow id, which
    creates no second saga.
    """
    require("sagas outbox", "postgres", "psycopg", "psycopg_pool")
    if not allow_sagas and not allow_any_saga:
        raise click.UsageError(
            "name the sagas rows may start with --allow-saga NAME (repeatable), or pass "
            "--allow-any-saga for a table only trusted code writes"
        )

    async def main() -> None:
        from psycopg_pool import AsyncConnectionPool

        from temporal_sagas.postgres import OutboxRelay, create_outbox_table

        client = await connect(connection_from(flags))
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
            async with pool.connection() as conn:
                await conn.set_autocommit(True)
                await create_outbox_table(conn, table=table, schema=schema)
            relay = OutboxRelay(
                client,
                pool,
                table=table,
                schema=schema,
                id_prefix=id_prefix,
                ordered=ordered,
                batch_size=batch_size,
                pause_after_start=pause_after_start,
                allowed_sagas=allow_sagas or None,
                allowed_task_queues=allow_queues or None,
            )
            if once:
                total = 0
                while (report := await relay.relay_once()).sent:
                    total += report.sent
                click.echo(f"relayed {total} row(s)")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await relay.run(interval=timedelta(seconds=interval), stop=stop)

    asyncio.run(main())
