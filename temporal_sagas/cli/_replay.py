"""``sagas replay``: the pre-deploy gate. Replay recorded or live histories against a new build.

Heavy imports (temporalio, the replay module) happen inside the command body so that
``sagas --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from temporal_sagas._errors import SagaError
from temporal_sagas.cli._connection import connect, connection_from, connection_options

if TYPE_CHECKING:
    from temporal_sagas.testing._replay import HistoryFile, ReplayReport
    from temporal_sagas.workers._connect import ConnectOptions

#: The visibility query ``--open`` stands for: every saga still running.
OPEN_SAGAS_QUERY = "ExecutionStatus = 'Running' AND SagaName IS NOT NULL"


class ReplayGateFailed(SagaError):
    """Some histories do not replay against the new build (exit code 1)."""


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--workflows",
    "-w",
    "targets",
    multiple=True,
    required=True,
    metavar="MODULE:ATTR",
    help="The saga workflow classes of the new build: a class, a list of classes, or an "
    "object with a `workflows` attribute (an app). Repeatable.",
)
@click.option("--query", "-q", help="Replay the live histories this visibility query selects.")
@click.option("--open", "open_sagas", is_flag=True, help=f"Same as --query {OPEN_SAGAS_QUERY!r}.")
@click.option("--limit", type=int, help="Replay at most this many live histories.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report (for CI).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Replay in this many processes (replay is CPU-bound; use one per core for bulk).",
)
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Import --workflows from this directory first. [default: the working directory]",
)
@click.option("--verbose", is_flag=True, help="Also show the SDK core's own log lines on stderr.")
@connection_options
def replay(
    paths: tuple[str, ...],
    targets: tuple[str, ...],
    query: str | None,
    open_sagas: bool,
    limit: int | None,
    as_json: bool,
    jobs: int,
    app_dir: Path | None,
    verbose: bool,
    **flags: Any,
) -> None:
    """Replay saga histories against the new build; exit 1 if any diverges.

    PATHS are history JSON files or directories of them (``temporal workflow show
    --output json`` exports, or files written by ``--record-histories``). With
    --query or --open, histories are fetched from the server instead (or as well).
    Every failing history is reported with its saga, run, event and Temporal's
    message. Run it in CI before deploying: replay the histories of the sagas
    still open against the code about to replace the running workers.
    """
    if open_sagas:
        query = OPEN_SAGAS_QUERY
    if not paths and query is None:
        raise click.UsageError("give history PATHS, --query or --open")
    sagas = [cls for target in targets for cls in _resolve(target, app_dir)]
    started = time.perf_counter()
    conn = connection_from(flags)
    report = asyncio.run(
        _gate(paths, sagas, query=query, conn=conn, limit=limit, jobs=jobs, core_logs=verbose)
    )
    elapsed = time.perf_counter() - started
    _print(report, elapsed, as_json=as_json)
    if not report.ok:
        raise ReplayGateFailed(
            f"{len(report.failures)} of {report.replayed} histories diverge: do not deploy "
            "this build as is (guard the change with workflow.patched(), see docs/versioning.md)"
        )


async def _gate(
    paths: Sequence[str],
    sagas: Sequence[type],
    *,
    query: str | None,
    conn: ConnectOptions,
    limit: int | None,
    jobs: int = 1,
    core_logs: bool = False,
) -> ReplayReport:
    from temporal_sagas.cli._connection import decrypted
    from temporal_sagas.testing._replay import HistoryFile, load_histories, replay_histories

    histories: list[HistoryFile] = load_histories(paths)
    if query is not None:
        histories.extend(await _fetch(query, conn=conn, limit=limit))
    # Decrypted here, once, so that the replayers (one per job) need no keys.
    plain = [HistoryFile(await decrypted(h.history), h.source) for h in histories]
    return await replay_histories(plain, sagas=sagas, jobs=jobs, core_logs=core_logs)


async def _fetch(query: str, *, conn: ConnectOptions, limit: int | None) -> list[Any]:
    from temporalio.service import RPCError

    from temporal_sagas.testing._replay import HistoryFile

    client = await connect(conn)
    source = f"{conn.address}/{conn.namespace}"
    try:
        listing = client.list_workflows(query, limit=limit)
        return [HistoryFile(h, source) async for h in listing.map_histories()]
    except (RPCError, RuntimeError) as err:
        raise SagaError(
            f"could not fetch histories for query {query!r} from {conn.address} (namespace "
            f"{conn.namespace!r}): {err}; check --address/--namespace and the query syntax"
        ) from err


def _resolve(target: str, app_dir: Path | None) -> list[type]:
    from temporal_sagas._targets import resolve

    value: Any = resolve(target, option="--workflows", app_dir=app_dir)
    if not isinstance(value, type) and hasattr(value, "workflows"):
        value = value.workflows
    classes = [value] if isinstance(value, type) else list(_iterable(value, target))
    for cls in classes:
        if not hasattr(cls, "__temporal_workflow_definition"):
            raise click.BadParameter(
                f"{target!r}: {cls!r} is not a @workflow.defn class", param_hint="--workflows"
            )
    return classes


def _iterable(value: Any, target: str) -> Iterable[type]:
    if isinstance(value, list | tuple | set | frozenset):
        return value
    raise click.BadParameter(
        f"{target!r} is neither a workflow class, a list of them, nor an object with "
        "a `workflows` attribute",
        param_hint="--workflows",
    )


def _print(report: ReplayReport, elapsed: float, *, as_json: bool) -> None:
    rate = report.replayed / elapsed if elapsed > 0 else 0.0
    if as_json:
        document = report.model_dump(mode="json")
        document.update(ok=report.ok, seconds=round(elapsed, 3))
        import json

        click.echo(json.dumps(document, indent=2))
        return
    for failure in report.failures:
        at = f"event {failure.event_id}" if failure.event_id is not None else "event ?"
        click.echo(
            f"FAIL {failure.workflow_type} {failure.workflow_id} run {failure.run_id} {at}\n"
            f"     {failure.message}\n     ({failure.source})"
        )
    verdict = "all replayed" if report.ok else f"{len(report.failures)} diverged"
    click.echo(f"{report.replayed} histories replayed in {elapsed:.2f} s ({rate:.0f}/s): {verdict}")
