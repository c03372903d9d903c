"""Book one trip with the trip-booking saga and print what happened.

Usage (from the repository root, with the worker running)::

    python -m examples.trip_booking.starter                  # car, hotel and flight booked
    python -m examples.trip_booking.starter --fail-at flight # sold out: hotel, car cancelled
    python -m examples.trip_booking.starter --style class    # the same saga, class style

``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` point it at another server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from typing import Any, Literal, get_args

from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from examples.trip_booking.activities import Itinerary, Service, TripRequest
from examples.trip_booking.workflows import DECLARED_WORKFLOW, SAGA_NAME, TASK_QUEUE, BookTrip
from temporal_sagas import (
    SAGA_COMPENSATED,
    CompensationReport,
    SagaPlugin,
    saga_state,
    start_saga,
)

#: The authoring style of the saga to start: ``BookTrip`` or ``BookTripDeclared``.
Style = Literal["imperative", "class"]


async def main(fail_at: Service | None, style: Style = "imperative") -> int:
    """Start one booking, wait for its outcome and print it.

    Args:
        fail_at: The service that should refuse the reservation, if any.
        style: Which of the two workflows books the trip; both behave the same.

    Returns:
        0 when the trip was booked, 1 when it was compensated.
    """
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    trip = TripRequest(
        trip_id=f"trip-{uuid.uuid4().hex[:8]}",
        traveller="Ada Lovelace",
        destination="Lisbon",
        fail_at=fail_at,
    )
    # The imperative workflow is started by its run method. The class-style one is
    # started by its workflow type name: @saga_workflow writes its run method when the
    # module is imported, so type checkers cannot see it.
    workflow: Any = BookTrip.run if style == "imperative" else DECLARED_WORKFLOW
    # The trip id is the workflow id: starting the same trip twice returns the same saga.
    handle = await start_saga(
        client, workflow, trip, id=trip.trip_id, task_queue=TASK_QUEUE, saga_name=SAGA_NAME
    )
    print(f"Started saga {handle.id} ({style} style)")
    try:
        # Started by name, the client does not know the result type and hands back plain
        # JSON; validating it gives both styles the same Itinerary.
        itinerary = Itinerary.model_validate(await handle.result())
    except WorkflowFailureError as err:
        cause = err.cause
        if not (isinstance(cause, ApplicationError) and cause.type == SAGA_COMPENSATED):
            raise
        report = CompensationReport.model_validate(cause.details[0])
        print(f"Trip {trip.trip_id} was NOT booked: {_root_message(cause)}")
        print(f"  failed step:              {report.failed_step}")
        print(f"  compensated, newest first: {', '.join(report.compensated)}")
        print(f"  saga status:              {(await saga_state(handle)).status.value}")
        return 1
    print(f"Trip {trip.trip_id} booked for {trip.traveller} to {trip.destination}:")
    for reservation in (itinerary.car, itinerary.hotel, itinerary.flight):
        print(f"  {reservation.service:<7}{reservation.confirmation}")
    print(f"  saga status: {(await saga_state(handle)).status.value}")
    return 0


def _root_message(error: BaseException) -> str:
    """The message of the innermost cause: what the failing service said."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fail-at", choices=get_args(Service), help="make this reservation fail for good"
    )
    parser.add_argument(
        "--style",
        choices=get_args(Style),
        default="imperative",
        help="book with the imperative BookTrip or the class-style BookTripDeclared "
        "(default: imperative)",
    )
    args = parser.parse_args()
    code = asyncio.run(main(args.fail_at, args.style))
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
