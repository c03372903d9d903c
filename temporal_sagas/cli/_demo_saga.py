"""The saga `sagas demo` runs: the trip-booking example, shipped inside the package.

This is a copy of ``examples/trip_booking`` (workflow and activities in one module),
so that an installed ``sagas demo`` works without the repository. The example is
the user-facing version; keep the two telling the same story.

The module is imported by the worker's workflow sandbox; it lives under
``temporal_sagas``, which `SagaPlugin` passes through, so it is imported once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

from temporal_sagas._context import current_idempotency_key, current_step
from temporal_sagas.workflows import Saga

Service = Literal["car", "hotel", "flight"]

#: The saga's name, in keys and in the ``SagaName`` search attribute.
SAGA_NAME = "book-trip"


class TripRequest(BaseModel):
    """What the traveller asks for.

    Attributes:
        trip_id: The business key of the booking; also the saga's workflow id.
        traveller: Who travels.
        destination: Where to.
        fail_at: Make this service refuse the reservation.
    """

    model_config = ConfigDict(frozen=True)

    trip_id: str
    traveller: str
    destination: str
    fail_at: Service | None = None


class Reservation(BaseModel):
    """A confirmed reservation with one service."""

    model_config = ConfigDict(frozen=True)

    service: Service
    trip_id: str
    confirmation: str


class Itinerary(BaseModel):
    """The result of a trip that was booked in full."""

    model_config = ConfigDict(frozen=True)

    car: Reservation
    hotel: Reservation
    flight: Reservation


@dataclass
class BookingService:
    """An in-memory stand-in for the car, hotel and flight providers.

    Attributes:
        reservations: Live reservations, by the idempotency key that made them.
        log: What really happened: ``(trip_id, "reserved" | "cancelled", service)``.
    """

    reservations: dict[str, Reservation] = field(default_factory=dict)
    log: list[tuple[str, str, Service]] = field(default_factory=list)

    def reserve(self, key: str, trip: TripRequest, service: Service) -> Reservation:
        """Reserve ``service`` for ``trip`` once per ``key``; a retry gets the same booking.

        Raises:
            ApplicationError: The service is sold out (non-retryable, type ``SoldOut``).
        """
        existing = self.reservations.get(key)
        if existing is not None:
            return existing
        if trip.fail_at == service:
            raise ApplicationError(
                f"no {service} available to {trip.destination}",
                type="SoldOut",
                non_retryable=True,
            )
        digest = hashlib.sha256(key.encode()).hexdigest()[:6].upper()
        reservation = Reservation(
            service=service, trip_id=trip.trip_id, confirmation=f"{service.upper()}-{digest}"
        )
        self.reservations[key] = reservation
        self.log.append((trip.trip_id, "reserved", service))
        return reservation

    def cancel(self, key: str, trip: TripRequest, service: Service) -> bool:
        """Cancel the reservation made under ``key``; False when there was nothing to undo."""
        if self.reservations.pop(key, None) is None:
            return False
        self.log.append((trip.trip_id, "cancelled", service))
        return True

    def history(self, trip_id: str) -> list[tuple[str, Service]]:
        """What happened to ``trip_id``, in order, as ``(what, service)`` pairs."""
        return [(what, service) for trip, what, service in self.log if trip == trip_id]


#: The booking service the demo's activities talk to.
SERVICE = BookingService()


@activity.defn
async def reserve_car(trip: TripRequest) -> Reservation:
    """Reserve a car for the trip."""
    return SERVICE.reserve(current_idempotency_key(), trip, "car")


@activity.defn
async def cancel_car(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's car, if one was reserved."""
    SERVICE.cancel(current_step().step_key, trip, "car")


@activity.defn
async def reserve_hotel(trip: TripRequest) -> Reservation:
    """Reserve a hotel room for the trip."""
    return SERVICE.reserve(current_idempotency_key(), trip, "hotel")


@activity.defn
async def cancel_hotel(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's hotel room, if one was reserved."""
    SERVICE.cancel(current_step().step_key, trip, "hotel")


@activity.defn
async def reserve_flight(trip: TripRequest) -> Reservation:
    """Reserve a flight for the trip."""
    return SERVICE.reserve(current_idempotency_key(), trip, "flight")


@activity.defn
async def cancel_flight(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's flight, if one was reserved."""
    SERVICE.cancel(current_step().step_key, trip, "flight")


#: Every activity the demo's worker registers.
ACTIVITIES: list[Callable[..., Awaitable[Any]]] = [
    reserve_car,
    cancel_car,
    reserve_hotel,
    cancel_hotel,
    reserve_flight,
    cancel_flight,
]


@workflow.defn
class BookTrip:
    """Book a whole trip, or nothing at all."""

    @workflow.run
    async def run(self, trip: TripRequest) -> Itinerary:
        """Reserve a car, a hotel and a flight; undo the earlier ones if a later one fails.

        Args:
            trip: The trip to book; ``trip.trip_id`` is the saga's business key.

        Returns:
            The three reservations.
        """
        saga = Saga(SAGA_NAME, key=trip.trip_id)
        async with saga:
            car = await saga.step("car", reserve_car, trip, compensate=cancel_car)
            hotel = await saga.step("hotel", reserve_hotel, trip, compensate=cancel_hotel)
            flight = await saga.step("flight", reserve_flight, trip, compensate=cancel_flight)
        return Itinerary(car=car, hotel=hotel, flight=flight)
