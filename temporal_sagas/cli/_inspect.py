"""``sagas show``, ``list``, ``plan`` and ``export``: read sagas through their histories."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from temporal_sagas._errors import SagaError, SagaNotFoundError
from temporal_sagas.cli._connection import (
    connect,
    connection_from,
    connection_options,
    decrypted,
    run,
)
from temporal_sagas.cli._redaction import redaction, unredacted_option

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHistory

    from temporal_sagas.workers._connect import ConnectOptions

_STATUSES = [
    "RUNNING",
    "COMPENSATING",
    "NEEDS_ATTENTION",
    "COMPLETED",
    "COMPENSATED",
    "CANCELLED",
    "FAILED",
]


@click.command()
@click.argument("workflow_id", required=False)
@click.option("--run", "run_id", help="A specific run; the latest run by default.")
@click.option(
    "--history",
    "history_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read a history JSON file instead of the server.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the SagaState as JSON.")
@click.option("--width", type=int, default=110, show_default=True, help="Console width.")
@unredacted_option
@connection_options
def show(
    workflow_id: str | None,
    run_id: str | None,
    history_file: Path | None,
    as_json: bool,
    width: int,
    unredacted: bool,
    **flags: Any,
) -> None:
    """Show a saga: forward lane, compensation lane and what runs now."""
    from temporal_sagas.history import closed_as, load_history, rebuild, render_saga

    conn = connection_from(flags)
    if history_file is not None:
        history = run(decrypted(load_history(history_file, workflow_id)))
    elif workflow_id is None:
        raise click.UsageError("give a WORKFLOW_ID, or --history FILE")
    else:
        history = run(_fetch(conn, workflow_id, run_id))
    state = rebuild(history).state
    redact = redaction(unredacted)
    if as_json:
        click.echo(json.dumps(redact(state.model_dump(mode="json")), indent=2))
        return
    click.echo(redact(render_saga(state, width=width)), nl=False)
    if history_file is None and closed_as(history) is not None:
        click.echo(run(_rescue_line(conn, state.workflow_id, state.run_id)))


async def _rescue_line(conn: ConnectOptions, workflow_id: str, run_id: str) -> str:
    """What became of the run's rescue, for a saga that was terminated or timed out."""
    from temporalio.service import RPCError, RPCStatusCode

    from temporal_sagas._contract import SAGA_STATUS, rescue_workflow_id

    client = await connect(conn)
    rescue_id = rescue_workflow_id(workflow_id, run_id)
    try:
        described = await client.get_workflow_handle(rescue_id).describe()
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        return (
            "closed without running its compensations and not rescued yet: "
            f"sagas rescue {workflow_id} (--dry-run to see the plan)"
        )
    status = described.typed_search_attributes.get(SAGA_STATUS) or str(described.status)
    return f"rescued by {rescue_id}: {status} (sagas show {rescue_id})"


@click.command()
@click.argument("workflow_id")
@click.option("--run", "run_id", help="A specific run; the latest run by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@unredacted_option
@connection_options
def plan(
    workflow_id: str, run_id: str | None, as_json: bool, unredacted: bool, **flags: Any
) -> None:
    """List the compensations that would run if the saga failed now, newest first."""
    from temporal_sagas.history import compensation_plan, rebuild

    history = run(_fetch(connection_from(flags), workflow_id, run_id))
    view = rebuild(history)
    steps = compensation_plan(view)
    redact = redaction(unredacted)
    if as_json:
        click.echo(json.dumps(redact([s.model_dump(mode="json") for s in steps]), indent=2))
        return
    if not steps:
        why = "it is closed" if view.state.status.is_terminal else "nothing is left to undo"
        if view.state.pivot_passed and not view.state.status.is_terminal:
            why = "it passed its pivot and only goes forward"
        click.echo(f"no compensation would run for {workflow_id}: {why}")
        return
    for index, step in enumerate(steps, start=1):
        click.echo(f"{index}. {step.activity} for step {step.step} (key {step.idempotency_key})")
        click.echo(f"   input:  {json.dumps(redact(step.input))}")
        click.echo(
            f"   result: {json.dumps(redact(step.action_result))} "
            f"(action {step.action_status.value})"
        )


@click.command(name="list")
@click.option(
    "--status", type=click.Choice(_STATUSES, case_sensitive=False), help="Only this status."
)
@click.option("--name", help="Only sagas with this name.")
@click.option("--since", help="Started after this ISO time, or this long ago (30m, 2h, 1d).")
@click.option(
    "--stuck-for",
    help="Only sagas COMPENSATING or NEEDS_ATTENTION and unchanged for this long (30m, 2h).",
)
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@connection_options
def list_(
    status: str | None,
    name: str | None,
    since: str | None,
    stuck_for: str | None,
    limit: int,
    as_json: bool,
    **flags: Any,
) -> None:
    """List sagas through visibility queries on SagaStatus and SagaName."""
    query = build_query(status=status, name=name, since=since, stuck_for=stuck_for)
    stuck = parse_duration(stuck_for) if stuck_for else None
    rows = run(list_sagas(connection_from(flags), query, limit, stuck))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo(f"no sagas match: {query}")
        return
    for row in rows:
        click.echo(
            f"{row['workflow_id']:<40} {row['saga'] or '?':<16} {row['status'] or '?':<16} "
            f"started {row['started']}"
        )


@click.command()
@click.argument("workflow_ids", nargs=-1)
@click.option("--query", help="A visibility query selecting the sagas to export.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the JSON files (<workflow id>__<run id>.json).",
)
@connection_options
def export(workflow_ids: tuple[str, ...], query: str | None, out_dir: Path, **flags: Any) -> None:
    """Write histories as JSON files, ready for replay tests and `sagas show --history`."""
    if bool(workflow_ids) == bool(query):
        raise click.UsageError("give workflow ids, or --query, not both")
    written = run(_export(connection_from(flags), list(workflow_ids), query, out_dir))
    for path in written:
        click.echo(str(path))


def build_query(
    *,
    status: str | None = None,
    name: str | None = None,
    since: str | None = None,
    stuck_for: str | None = None,
    stuck_statuses: tuple[str, ...] = ("COMPENSATING", "NEEDS_ATTENTION"),
    now: datetime | None = None,
) -> str:
    """Build the visibility query behind ``sagas list`` (and ``sagas reconcile --stuck-for``)."""
    now = now or datetime.now(UTC)
    clauses = ["SagaStatus IS NOT NULL" if status is None else f"SagaStatus = '{status.upper()}'"]
    if name:
        clauses.append(f"SagaName = '{_quote(name)}'")
    if since:
        clauses.append(f"StartTime >= '{_time(since, now)}'")
    if stuck_for:
        if status is None:
            listed = ", ".join(f"'{s}'" for s in stuck_statuses)
            clauses[0] = f"SagaStatus IN ({listed})"
        # A saga in a status for T started at least T ago: a cheap server-side prefilter;
        # the time of the last status change is checked in the history afterwards.
        clauses.append("ExecutionStatus = 'Running'")
        clauses.append(f"StartTime <= '{(now - parse_duration(stuck_for)).isoformat()}'")
    return " AND ".join(clauses)


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``30m``, ``2h`` or ``1d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.replace(".", "", 1).isdigit():
        raise click.BadParameter(f"{text!r} is not a duration; use e.g. 90s, 30m, 2h, 1d")
    return timedelta(seconds=float(number) * units[unit])


def _time(text: str, now: datetime) -> str:
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return (now - parse_duration(text)).isoformat()


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


async def _fetch(conn: ConnectOptions, workflow_id: str, run_id: str | None) -> WorkflowHistory:
    client = await connect(conn)
    return await fetch_history(client, workflow_id, run_id, conn)


async def fetch_history(
    client: Client,
    workflow_id: str,
    run_id: str | None,
    conn: ConnectOptions,
    *,
    decrypt: bool = True,
) -> WorkflowHistory:
    """Fetch a saga's history, turning "not found" into a `SagaNotFoundError`.

    Args:
        client: The connected client.
        workflow_id: The saga's workflow id.
        run_id: A specific run; the latest run when None.
        conn: The connection settings, named in errors.
        decrypt: Decrypt the payloads with ``SAGAS_ENCRYPTION_KEYS`` (see `decrypted`);
            False keeps them as the server stores them.
    """
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        history = await handle.fetch_history()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise SagaNotFoundError(
                f"no saga {workflow_id!r}{f' run {run_id}' if run_id else ''} in namespace "
                f"{conn.namespace!r} at {conn.address}; check the id and --namespace"
            ) from err
        raise SagaError(f"cannot read the history of {workflow_id!r}: {err.message}") from err
    return await decrypted(history) if decrypt else history


async def list_sagas(
    conn: ConnectOptions, query: str, limit: int, stuck: timedelta | None
) -> list[dict[str, Any]]:
    from temporalio.service import RPCError

    from temporal_sagas._contract import SAGA_NAME, SAGA_STATUS

    client = await connect(conn)
    rows: list[dict[str, Any]] = []
    try:
        async for wf in client.list_workflows(query, limit=limit):
            attrs = wf.typed_search_attributes
            rows.append(
                {
                    "workflow_id": wf.id,
                    "run_id": wf.run_id,
                    "saga": attrs.get(SAGA_NAME),
                    "status": attrs.get(SAGA_STATUS),
                    "started": wf.start_time.isoformat(),
                    "closed": wf.close_time.isoformat() if wf.close_time else None,
                }
            )
    except RPCError as err:
        raise SagaError(f"visibility query {query!r} failed: {err.message}") from err
    if stuck is None:
        return rows
    # Visibility keeps no "status changed at"; the last status upsert in the history does.
    bound = datetime.now(UTC) - stuck
    kept = []
    for row in rows:
        history = await fetch_history(
            client, row["workflow_id"], row["run_id"], conn, decrypt=False
        )
        since = _last_status_change(history)
        if since is not None and since <= bound:
            kept.append({**row, "status_since": since.isoformat()})
    return kept


def _last_status_change(history: WorkflowHistory) -> datetime | None:
    from temporalio.api.enums.v1 import EventType

    from temporal_sagas._contract import SAGA_STATUS

    last = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if SAGA_STATUS.name in fields.indexed_fields:
                last = event.event_time.ToDatetime().replace(tzinfo=UTC)
    return last


async def _export(
    conn: ConnectOptions, workflow_ids: list[str], query: str | None, out_dir: Path
) -> list[Path]:
    from temporal_sagas.history import dump_history, history_file_name

    client = await connect(conn)
    targets: list[tuple[str, str | None]] = [(wid, None) for wid in workflow_ids]
    if query:
        targets = [(wf.id, wf.run_id) async for wf in client.list_workflows(query)]
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a CLI: nothing else runs)
    written = []
    for workflow_id, run_id in targets:
        # As the server stores it: an encrypted saga stays encrypted on disk, and the
        # commands that read the file decrypt it with the keys.
        history = await fetch_history(client, workflow_id, run_id, conn, decrypt=False)
        run_of = run_id or _run_id(history)
        path = out_dir / history_file_name(workflow_id, run_of)
        path.write_text(dump_history(history), encoding="utf-8")
        written.append(path)
    return written


def _run_id(history: WorkflowHistory) -> str:
    attrs = history.events[0].workflow_execution_started_event_attributes
    return attrs.original_execution_run_id or "run"
