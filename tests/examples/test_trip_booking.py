"""The trip-booking example, end to end on the local dev server, in both styles.

Every behaviour test runs once per authoring style: the imperative `BookTrip` and the
class-style `BookTripDeclared` must book, cancel and report the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from examples.trip_booking.activities import (
    ACTIVITIES,
    SERVICE,
    BookingService,
    Itinerary,
    Service,
    TripRequest,
)
from examples.trip_booking.workflows import DECLARED_WORKFLOW, BookTrip, BookTripDeclared
from temporal_sagas import SAGA_COMPENSATED, SagaState, SagaStatus, saga_state, start_saga

STYLES = ("imperative", "class")

# How each style is started, as the starter does it: the class-style workflow by its
# type name, because @saga_workflow writes its run method at import time.
_WORKFLOW: dict[str, Any] = {"imperative": BookTrip.run, "class": DECLARED_WORKFLOW}


def _trip(fail_at: Service | None = None) -> TripRequest:
    return TripRequest(
        trip_id=f"trip-{uuid.uuid4().hex[:8]}",
        traveller="Ada Lovelace",
        destination="Lisbon",
        fail_at=fail_at,
    )


@pytest_asyncio.fixture
async def client(saga_dev_env: WorkflowEnvironment, saga_task_queue: str) -> AsyncIterator[Client]:
    """The dev server's client, with a trip-booking worker polling `saga_task_queue`."""
    async with Worker(
        saga_dev_env.client,
        task_queue=saga_task_queue,
        workflows=[BookTrip, BookTripDeclared],
        activities=ACTIVITIES,
    ):
        yield saga_dev_env.client


@pytest.fixture(params=STYLES)
def style(request: pytest.FixtureRequest) -> str:
    """The authoring style a test books with; every test using it runs for both."""
    return str(request.param)


async def _book(
    client: Client, task_queue: str, trip: TripRequest, style: str
) -> WorkflowHandle[Any, Any]:
    return await start_saga(client, _WORKFLOW[style], trip, id=trip.trip_id, task_queue=task_queue)


async def _itinerary(handle: WorkflowHandle[Any, Any]) -> Itinerary:
    # Started by name, the class style's result arrives as plain JSON.
    return Itinerary.model_validate(await handle.result())


async def _book_expecting_failure(
    client: Client, task_queue: str, trip: TripRequest, style: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowFailureError]:
    handle = await _book(client, task_queue, trip, style)
    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()
    return handle, raised.value


async def _finished_state(
    client: Client, task_queue: str, trip: TripRequest, style: str
) -> SagaState:
    if trip.fail_at is None:
        handle = await _book(client, task_queue, trip, style)
        await handle.result()
    else:
        handle, _ = await _book_expecting_failure(client, task_queue, trip, style)
    return await saga_state(handle)


def _event_kinds_by_step(state: SagaState) -> list[tuple[str, str | None]]:
    return [(event.kind.value, event.step) for event in state.timeline]


async def test_trip_with_every_service_available_reserves_car_hotel_and_flight(
    client: Client, saga_task_queue: str, style: str
) -> None:
    trip = _trip()
    itinerary = await _itinerary(await _book(client, saga_task_queue, trip, style))

    assert [r.service for r in (itinerary.car, itinerary.hotel, itinerary.flight)] == [
        "car",
        "hotel",
        "flight",
    ]
    assert SERVICE.history(trip.trip_id) == [
        ("reserved", "car"),
        ("reserved", "hotel"),
        ("reserved", "flight"),
    ]


async def test_booked_trip_saga_is_completed(
    client: Client, saga_task_queue: str, style: str
) -> None:
    state = await _finished_state(client, saga_task_queue, _trip(), style)

    assert state.status is SagaStatus.COMPLETED
    assert state.compensation_order == []


async def test_reservations_are_keyed_by_saga_trip_and_step(
    client: Client, saga_task_queue: str, style: str
) -> None:
    trip = _trip()

    state = await _finished_state(client, saga_task_queue, trip, style)

    assert [s.idempotency_key for s in state.steps] == [
        f"book-trip/{trip.trip_id}/car",
        f"book-trip/{trip.trip_id}/hotel",
        f"book-trip/{trip.trip_id}/flight",
    ]


async def test_sold_out_flight_cancels_hotel_then_car(
    client: Client, saga_task_queue: str, style: str
) -> None:
    trip = _trip(fail_at="flight")
    await _book_expecting_failure(client, saga_task_queue, trip, style)

    assert SERVICE.history(trip.trip_id) == [
        ("reserved", "car"),
        ("reserved", "hotel"),
        ("cancelled", "hotel"),
        ("cancelled", "car"),
    ]


async def test_sold_out_flight_runs_every_compensation_newest_first(
    client: Client, saga_task_queue: str, style: str
) -> None:
    # The flight's cancellation was registered before its reservation ran, so it runs
    # too, finds nothing to undo, and completes.
    state = await _finished_state(client, saga_task_queue, _trip(fail_at="flight"), style)

    assert state.compensation_order == ["flight", "hotel", "car"]
    assert state.status is SagaStatus.COMPENSATED


async def test_sold_out_flight_fails_the_booking_with_saga_compensated(
    client: Client, saga_task_queue: str, style: str
) -> None:
    _, failure = await _book_expecting_failure(
        client, saga_task_queue, _trip(fail_at="flight"), style
    )

    assert isinstance(failure.cause, ApplicationError)
    assert failure.cause.type == SAGA_COMPENSATED


async def test_sold_out_car_reserves_nothing(
    client: Client, saga_task_queue: str, style: str
) -> None:
    trip = _trip(fail_at="car")
    await _book_expecting_failure(client, saga_task_queue, trip, style)

    assert SERVICE.history(trip.trip_id) == []


@pytest.mark.parametrize("fail_at", [None, "flight"], ids=["booked", "sold-out-flight"])
async def test_both_styles_record_the_same_timeline(
    client: Client, saga_task_queue: str, fail_at: Service | None
) -> None:
    imperative = await _finished_state(client, saga_task_queue, _trip(fail_at), "imperative")
    declared = await _finished_state(client, saga_task_queue, _trip(fail_at), "class")

    assert ("step.scheduled", "car") in _event_kinds_by_step(imperative)  # not vacuous
    assert _event_kinds_by_step(declared) == _event_kinds_by_step(imperative)
    assert declared.status is imperative.status


def test_retried_reservation_returns_the_first_booking() -> None:
    service = BookingService()
    trip = _trip()

    first = service.reserve("book-trip/t/car", trip, "car")
    again = service.reserve("book-trip/t/car", trip, "car")

    assert again == first
    assert service.history(trip.trip_id) == [("reserved", "car")]


def test_cancelling_twice_cancels_once() -> None:
    service = BookingService()
    trip = _trip()
    service.reserve("book-trip/t/car", trip, "car")

    assert service.cancel("book-trip/t/car", trip, "car") is True
    assert service.cancel("book-trip/t/car", trip, "car") is False
    assert service.history(trip.trip_id) == [("reserved", "car"), ("cancelled", "car")]
