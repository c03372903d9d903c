"""``sagas audit``: a saga's audit trail from its history, and checks of shipped logs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from temporal_sagas.cli._connection import (
    connect,
    connection_from,
    connection_options,
    decrypted,
    run,
)
from temporal_sagas.cli._redaction import redaction, unredacted_option

if TYPE_CHECKING:
    from temporalio.client import WorkflowHistory

    from temporal_sagas.audit._events import AuditEvent
    from temporal_sagas.history._audit import AuditVerification
    from temporal_sagas.workers._connect import ConnectOptions


@click.command()
@click.argument("workflow_id", required=False)
@click.option("--run", "run_id", help="A specific run; the latest run by default.")
@click.option(
    "--history",
    "history_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read a history JSON file instead of the server.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON lines.")
@click.option(
    "--verify",
    "verify_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check this shipped JSON-lines log against the history; exit 1 on any difference.",
)
@click.option(
    "--reconcile",
    "reconcile_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make this JSON-lines log hold exactly the history's events for the run.",
)
@unredacted_option
@connection_options
def audit(
    workflow_id: str | None,
    run_id: str | None,
    history_file: Path | None,
    as_json: bool,
    verify_file: Path | None,
    reconcile_file: Path | None,
    unredacted: bool,
    **flags: Any,
) -> None:
    """Print a saga's audit trail, rebuilt from its history (ids and hashes included)."""
    from temporal_sagas.history import audit_trail, load_history

    if history_file is not None:
        history = run(decrypted(load_history(history_file, workflow_id)))
    elif workflow_id is None:
        raise click.UsageError("give a WORKFLOW_ID, or --history FILE")
    else:
        history = run(_fetch(connection_from(flags), workflow_id, run_id))
    trail = audit_trail(history)
    if verify_file is not None:
        _verify(trail, verify_file)
    elif reconcile_file is not None:
        _reconcile(trail, reconcile_file)
    elif as_json:
        # Redacted lines no longer match their hashes: --unredacted prints the exact
        # canonical JSON the chain covers.
        redact = redaction(unredacted)
        for event in trail:
            click.echo(redact(event.canonical_json()))
    else:
        redact = redaction(unredacted)
        for event in trail:
            click.echo(redact(_line(event)))


def _line(event: AuditEvent) -> str:
    parts = [event.event_id, event.at.isoformat(), event.kind.value]
    if event.step:
        parts.append(f"step={event.step}")
    if event.attempt is not None:
        parts.append(f"attempt={event.attempt}")
    if event.duration_ms is not None:
        parts.append(f"duration={event.duration_ms:.0f}ms")
    if event.error:
        parts.append(f"error={event.error!r}")
    if event.detail:
        parts.append(f"detail={event.detail!r}")
    parts.append(f"caused_by={event.causation_id or '-'}")
    parts.append(f"hash={event.hash[:12]}")
    return "  ".join(parts)


def _verify(trail: list[AuditEvent], path: Path) -> None:
    from temporal_sagas.audit import AuditSealer
    from temporal_sagas.history import verify_log

    with path.open(encoding="utf-8") as lines:
        result = verify_log(trail, lines, sealer=AuditSealer.from_env())
    for line in _report(result):
        click.echo(line)
    if not result.ok:
        raise click.exceptions.Exit(1)


def _report(result: AuditVerification) -> list[str]:
    lines = [f"missing {event_id}: in the history, not in the log" for event_id in result.missing]
    lines += [f"extra {event_id}: in the log, not in the history" for event_id in result.extra]
    lines += [f"duplicated {event_id}: logged more than once" for event_id in result.duplicated]
    lines += [
        f"altered {a.event_id} (line {a.line}): {', '.join(a.fields)} differ from the history"
        for a in result.altered
    ]
    lines += [f"unreadable line {n}: not an audit event" for n in result.unreadable]
    lines += [
        f"unsealed {event_id}: no valid seal under SAGAS_AUDIT_KEYS" for event_id in result.unsealed
    ]
    lines += [
        f"superseded {event_id}: sealed, from a workflow task that ran again; the history's "
        "outcome differs (sagas audit --reconcile replaces it)"
        for event_id in result.superseded
    ]
    lines += [
        f"abandoned {event_id}: sealed, from a workflow task that never completed"
        for event_id in result.abandoned
    ]
    if result.ok:
        lines.append(f"ok: {result.checked} events, all present, none altered, none extra")
    else:
        lines.append(f"FAILED: the log does not match the history ({result.checked} events read)")
    return lines


def _reconcile(trail: list[AuditEvent], path: Path) -> None:
    from temporal_sagas.audit import AuditSealer
    from temporal_sagas.audit._sinks import JsonlAuditSink, reconcile

    report = reconcile(JsonlAuditSink(path, sealer=AuditSealer.from_env()), trail)
    click.echo(
        f"reconciled {path}: added {len(report.added)}, replaced {len(report.replaced)}, "
        f"removed {len(report.removed)}"
    )


async def _fetch(conn: ConnectOptions, workflow_id: str, run_id: str | None) -> WorkflowHistory:
    from temporal_sagas.cli._inspect import fetch_history

    client = await connect(conn)
    return await fetch_history(client, workflow_id, run_id, conn)
