"""The trip-booking saga in the three authoring styles, over one set of test activities.

Activities write what really happened to `JOURNAL`, keyed by trip id, so a test can
check the effects as well as the `SagaState` each style reports.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from temporal_sagas import Saga, StepOptions
from temporal_sagas.workflows import saga_workflow, step

DEFINITIONS_DIR = Path(__file__).parent.parent / "definitions"
TRIP_YAML = DEFINITIONS_DIR / "trip.yaml"
SERVICES = ("car", "hotel", "flight")


class Trip(BaseModel):
    model_config = ConfigDict(frozen=True)

    trip_id: str
    traveller: str
    destination: str
    fail_at: str | None = None
    hold_at: str | None = None


class Booking(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    trip_id: str
    confirmation: str


JOURNAL: list[tuple[str, str, str]] = []
HOLD: dict[str, asyncio.Event] = {}


def journal(trip_id: str) -> list[tuple[str, str]]:
    return [(kind, service) for tid, kind, service in JOURNAL if tid == trip_id]


def release(trip_id: str) -> None:
    HOLD.setdefault(trip_id, asyncio.Event()).set()


async def _reserve(service: str, trip: Trip) -> Booking:
    if trip.fail_at == service:
        JOURNAL.append((trip.trip_id, "refused", service))
        raise ApplicationError(f"{service} refused")
    if trip.hold_at == service:
        JOURNAL.append((trip.trip_id, "holding", service))
        event = HOLD.setdefault(trip.trip_id, asyncio.Event())
        while not event.is_set():
            activity.heartbeat()
            await asyncio.sleep(0.02)
    JOURNAL.append((trip.trip_id, "reserved", service))
    return Booking(service=service, trip_id=trip.trip_id, confirmation=f"{service}-{trip.trip_id}")


async def _cancel(service: str, trip: Trip, booking: Booking | None) -> None:
    JOURNAL.append((trip.trip_id, "cancelled" if booking else "nothing-to-cancel", service))


@activity.defn
async def reserve_car(trip: Trip) -> Booking:
    return await _reserve("car", trip)


@activity.defn
async def reserve_hotel(trip: Trip) -> Booking:
    return await _reserve("hotel", trip)


@activity.defn
async def reserve_flight(trip: Trip) -> Booking:
    return await _reserve("flight", trip)


@activity.defn
async def cancel_car(trip: Trip, booking: Booking | None) -> None:
    await _cancel("car", trip, booking)


@activity.defn
async def cancel_hotel(trip: Trip, booking: Booking | None) -> None:
    await _cancel("hotel", trip, booking)


@activity.defn
async def cancel_flight(trip: Trip, booking: Booking | None) -> None:
    await _cancel("flight", trip, booking)


@activity.defn
async def send_confirmation(trip: Trip) -> str:
    JOURNAL.append((trip.trip_id, "confirmed", "mail"))
    return f"sent to {trip.traveller}"


ACTIVITIES = [
    reserve_car,
    reserve_hotel,
    reserve_flight,
    cancel_car,
    cancel_hotel,
    cancel_flight,
    send_confirmation,
]

FAST = StepOptions(
    start_to_close_timeout=timedelta(seconds=10),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=20)),
)


@workflow.defn
class ImperativeTrip:
    @workflow.run
    async def run(self, trip: Trip) -> dict[str, Booking]:
        saga = Saga("book-trip", key=trip.trip_id, action_options=FAST, compensation_options=FAST)
        async with saga:
            car = await saga.step("car", reserve_car, trip, compensate=cancel_car)
            hotel = await saga.step("hotel", reserve_hotel, trip, compensate=cancel_hotel)
            flight = await saga.step("flight", reserve_flight, trip, compensate=cancel_flight)
        return {"car": car, "hotel": hotel, "flight": flight}


@saga_workflow(
    name="book-trip",
    workflow_name="ClassTrip",
    key=lambda trip: trip.trip_id,
    action_options=FAST,
    compensation_options=FAST,
)
class ClassTrip:
    car = step(reserve_car, compensate=cancel_car)
    hotel = step(reserve_hotel, compensate=cancel_hotel)
    flight = step(reserve_flight, compensate=cancel_flight)


@saga_workflow(
    name="book-car-quietly",
    workflow_name="QuietTrip",
    key=lambda trip: trip.trip_id,
    action_options=FAST,
    compensation_options=FAST,
    audit_log=False,
)
class QuietTrip:
    car = step(reserve_car, compensate=cancel_car)


def _confirmation_input(trip: Trip, results: Any) -> Trip:
    # Mapped input: the confirmation sees the flight's confirmation as the destination.
    return trip.model_copy(update={"destination": results["flight"].confirmation})


@saga_workflow(
    name="book-and-confirm",
    workflow_name="ConfirmedTrip",
    key=lambda trip: trip.trip_id,
    action_options=FAST,
    compensation_options=FAST,
)
class ConfirmedTrip:
    car = step(reserve_car, compensate=cancel_car)
    flight = step(reserve_flight, pivot=True)
    confirm = step(send_confirmation, input=_confirmation_input)

    def result(self, trip: Trip, results: dict[str, Any]) -> str:
        return f"{results['confirm']} ({results['flight'].confirmation})"
