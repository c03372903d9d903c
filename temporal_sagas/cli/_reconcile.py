"""``sagas reconcile``: find sagas whose record and the real systems disagree.

For each selected saga run, every step that names a probe is asked, on the saga's own
task queue, whether its effect is there now; the answer is held against the saga's
record: a step recorded as done whose effect is absent, or a compensated step whose
effect is still present, is a divergence. With ``--stuck-for``, sagas RUNNING,
COMPENSATING or NEEDS_ATTENTION unchanged for that long are reported too. The report is
a table, or JSON lines; the exit code is 1 when anything diverges, so a scheduled job
can alert on it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from temporal_sagas.cli._connection import connect, connection_from, connection_options, run

if TYPE_CHECKING:
    from temporalio.client import Client

    from temporal_sagas.workers._connect import ConnectOptions

#: Sagas whose record is final: what they did, or undid, should be in the real systems.
RECONCILE_QUERY = "SagaStatus IN ('COMPLETED', 'COMPENSATED')"


@click.command()
@click.argument("workflow_ids", nargs=-1)
@click.option("--query", help=f"Visibility query selecting the sagas. [default: {RECONCILE_QUERY}]")
@click.option("--limit", type=int, default=1000, show_default=True, help="At most this many.")
@click.option("--stuck-for", help="Also report sagas unchanged for this long (30m, 2h, 1d).")
@click.option(
    "--sqlite-store",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also report records this SQLite idempotency store holds for no known saga.",
)
@click.option(
    "--postgres-store",
    metavar="DSN",
    help="Also report records this PostgreSQL store holds for no known saga.",
)
@click.option("--store-table", default=None, help="The store's table. [default: the store's]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@connection_options
def reconcile(
    workflow_ids: tuple[str, ...],
    query: str | None,
    limit: int,
    stuck_for: str | None,
    sqlite_store: Path | None,
    postgres_store: str | None,
    store_table: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Ask finished sagas' probes whether the real systems hold what the sagas recorded.

    Exits 1 when a step's effect diverges from the record (or a probe cannot tell, or a
    saga is stuck), 0 when everything agrees.
    """
    stores = _stores(sqlite_store, postgres_store, store_table)
    rows = run(
        _reconcile(
            connection_from(flags), list(workflow_ids), query, limit, stuck_for, tuple(stores)
        )
    )
    for row in rows:
        click.echo(json.dumps(row) if as_json else _line(row))
    bad = [row for row in rows if row["verdict"] != "agrees"]
    if not as_json:
        click.echo(f"{len(rows)} check(s), {len(bad)} divergent")
    if bad:
        raise SystemExit(1)


async def _reconcile(
    conn: ConnectOptions,
    workflow_ids: list[str],
    query: str | None,
    limit: int,
    stuck_for: str | None,
    stores: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    client = await connect(conn)
    targets: list[tuple[str, str | None]] = [(wid, None) for wid in workflow_ids]
    if not workflow_ids:
        async for execution in client.list_workflows(query or RECONCILE_QUERY, limit=limit):
            targets.append((execution.id, execution.run_id))
    rows: list[dict[str, Any]] = []
    for workflow_id, run_id in targets:
        rows += await _check(client, conn, workflow_id, run_id)
    if stuck_for:
        rows += await _stuck(conn, stuck_for, limit)
    for store in stores:
        rows += await _unowned(client, store)
    return rows


def _stores(sqlite: Path | None, dsn: str | None, table: str | None) -> list[Any]:
    """The idempotency stores to look into for records no saga owns."""
    from temporal_sagas.activities import DEFAULT_TABLE, SQLiteStore

    stores: list[Any] = []
    if sqlite is not None:
        stores.append(SQLiteStore(sqlite, table=table or DEFAULT_TABLE))
    if dsn is not None:
        from temporal_sagas.postgres import PostgresStore

        stores.append(PostgresStore(dsn, table=table or DEFAULT_TABLE))
    return stores


async def _unowned(client: Client, store: Any) -> list[dict[str, Any]]:
    from temporal_sagas.activities import unowned_sagas

    await store.open()
    try:
        found = await unowned_sagas(store, client)
    finally:
        await store.close()
    return [
        {
            "workflow_id": workflow_id,
            "run_id": None,
            "step": None,
            "recorded": "no saga",
            "effect": True,
            "verdict": "diverges: the store holds records for a saga Temporal does not know",
        }
        for workflow_id in found
    ]


async def _check(
    client: Client, conn: ConnectOptions, workflow_id: str, run_id: str | None
) -> list[dict[str, Any]]:
    from temporal_sagas._contract import RECONCILE_WORKFLOW
    from temporal_sagas.cli._inspect import fetch_history
    from temporal_sagas.history import reconcile_plan
    from temporal_sagas.workflows._reconcile import ProbeAnswer

    history = await fetch_history(client, workflow_id, run_id, conn)
    plan = reconcile_plan(history)
    if plan is None:
        return []
    started = history.events[0].workflow_execution_started_event_attributes
    answers = await client.execute_workflow(
        RECONCILE_WORKFLOW,
        plan,
        id=f"{workflow_id}/reconcile/{uuid.uuid4()}",
        task_queue=started.task_queue.name,
        result_type=list[ProbeAnswer],
    )
    rows = []
    for check, answer in zip(plan.checks, answers, strict=True):
        if answer.took_effect is None:
            verdict = f"unknown: probe failed ({answer.error})"
        elif answer.took_effect == check.expect_effect:
            verdict = "agrees"
        elif check.expect_effect:
            verdict = "diverges: recorded as done, effect absent"
        else:
            verdict = "diverges: compensated, effect still present"
        rows.append(
            {
                "workflow_id": plan.workflow_id,
                "run_id": plan.run_id,
                "step": check.step,
                "recorded": "done" if check.expect_effect else "compensated",
                "effect": answer.took_effect,
                "verdict": verdict,
            }
        )
    return rows


async def _stuck(conn: ConnectOptions, stuck_for: str, limit: int) -> list[dict[str, Any]]:
    from temporal_sagas.cli._inspect import build_query, list_sagas, parse_duration

    statuses = ("RUNNING", "COMPENSATING", "NEEDS_ATTENTION")
    query = build_query(stuck_for=stuck_for, stuck_statuses=statuses)
    found = await list_sagas(conn, query, limit, parse_duration(stuck_for))
    return [
        {
            "workflow_id": row["workflow_id"],
            "run_id": row["run_id"],
            "step": None,
            "recorded": row["status"],
            "effect": None,
            "verdict": f"stuck: {row['status']} since {row.get('status_since', row['started'])}",
        }
        for row in found
    ]


def _line(row: dict[str, Any]) -> str:
    step = row["step"] or "-"
    return f"{row['workflow_id']:<40} {step:<16} {row['recorded']:<12} {row['verdict']}"
