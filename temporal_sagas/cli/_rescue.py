"""``sagas rescue`` and ``sagas terminate --compensate``: compensations no boundary can lose.

A saga terminated (by an operator, a reset, a deploy script) or timed out closes with
its compensations not run. ``sagas rescue`` finds such sagas with a visibility query,
rebuilds from each history what was registered and not undone, and starts one
`SagaRescue` workflow per run on the saga's task queue, under an id derived from the
saga's: rescuers racing for a saga start one rescue, and a rescued run is not rescued
twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from temporal_sagas.cli._connection import connect, connection_from, connection_options, run

if TYPE_CHECKING:
    from temporalio.client import Client

    from temporal_sagas.workers._connect import ConnectOptions
    from temporal_sagas.workers._rescuer import RescueOutcome
    from temporal_sagas.workflows._rescue import RescuePlan


@click.command()
@click.argument("workflow_ids", nargs=-1)
@click.option(
    "--query",
    help="Visibility query selecting the sagas to rescue. [default: terminated or timed-out "
    "sagas whose SagaStatus is RUNNING, COMPENSATING or NEEDS_ATTENTION]",
)
@click.option("--dry-run", is_flag=True, help="Print each plan; start nothing.")
@connection_options
def rescue(workflow_ids: tuple[str, ...], query: str | None, dry_run: bool, **flags: Any) -> None:
    """Run the compensations of terminated or timed-out sagas, once per saga run.

    Without WORKFLOW_IDS, every saga the query selects. Each rescue runs on the
    saga's own task queue, where its compensation activities are registered.
    """
    conn = connection_from(flags)
    run(_rescue_all(conn, list(workflow_ids), query, dry_run=dry_run))


@click.command()
@click.argument("workflow_id")
@click.option("--reason", required=True, help="Why; recorded with the termination.")
@click.option(
    "--compensate", is_flag=True, help="Then rescue it: run the compensations it had due."
)
@connection_options
def terminate(workflow_id: str, reason: str, compensate: bool, **flags: Any) -> None:
    """Terminate a saga at once; with --compensate, then run what it had to undo."""
    conn = connection_from(flags)
    run(_terminate(conn, workflow_id, reason, compensate=compensate))


async def _terminate(
    conn: ConnectOptions, workflow_id: str, reason: str, *, compensate: bool
) -> None:
    from temporal_sagas.cli._inspect import fetch_history

    client = await connect(conn)
    handle = client.get_workflow_handle(workflow_id)
    await fetch_history(client, workflow_id, None, conn, decrypt=False)  # exists, or one line
    await handle.terminate(reason=reason)
    click.echo(f"terminated {workflow_id}")
    if compensate:
        await _rescue_one(client, workflow_id, None, dry_run=False)


async def _rescue_all(
    conn: ConnectOptions, workflow_ids: list[str], query: str | None, *, dry_run: bool
) -> None:
    from temporal_sagas.workers._rescuer import RESCUE_QUERY, rescue, rescue_all

    client = await connect(conn)
    if workflow_ids:
        outcomes = [await rescue(client, wid, dry_run=dry_run) for wid in workflow_ids]
    else:
        outcomes = await rescue_all(client, query or RESCUE_QUERY, dry_run=dry_run)
    if not outcomes:
        click.echo("no saga to rescue")
    for outcome in outcomes:
        _report(outcome)


async def _rescue_one(
    client: Client, workflow_id: str, run_id: str | None, *, dry_run: bool
) -> None:
    from temporal_sagas.workers._rescuer import rescue

    _report(await rescue(client, workflow_id, run_id, dry_run=dry_run))


def _report(outcome: RescueOutcome) -> None:
    workflow_id = outcome.workflow_id
    if outcome.error is not None:
        click.echo(f"{workflow_id}: not rescued: {outcome.error}")
        return
    if outcome.plan is None:
        click.echo(f"{workflow_id}: nothing to rescue (not terminated or timed out, or no "
                   "compensation due)")  # fmt: skip
        return
    _print_plan(outcome.plan)
    if outcome.already:
        click.echo(f"{workflow_id}: already rescued by {outcome.rescue_id}")
    elif outcome.started:
        click.echo(f"{workflow_id}: rescue {outcome.rescue_id} started")


def _print_plan(plan: RescuePlan) -> None:
    click.echo(
        f"{plan.workflow_id} (run {plan.run_id}) closed {plan.closed_as}: "
        f"{len(plan.steps)} compensation(s) due, newest first:"
    )
    for step in reversed(plan.steps):
        click.echo(f"  {step.step}: {step.compensation} (action {step.action_status.value})")
