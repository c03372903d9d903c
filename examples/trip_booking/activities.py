"""Activities of the trip-booking saga: a simulated booking service.

Every reservation is stored under the step's idempotency key
(``current_idempotency_key()``), which is the same on every retry of the step. A
reservation that is retried (because the worker crashed, or the answer was lost)
returns the booking it already made instead of booking twice. A cancellation
finds its booking by the key of the action it undoes (``current_step().step_key``),
so it works even when the action's result was never recorded, and it tolerates
"nothing to undo": a saga registers each compensation *before* its action runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from temporal_sagas import current_idempotency_key, current_step

Service = Literal["car", "hotel", "flight"]


class TripRequest(BaseModel):
    """What the traveller asks for.

    Attributes:
        trip_id: The business key of the booking; also the saga's workflow id.
        traveller: Who travels.
        destination: Where to.
        fail_at: Make this service refuse the reservation, to see compensation at work.
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
        log: What really happened, in order: ``(trip_id, "reserved" | "cancelled", service)``.
    """

    reservations: dict[str, Reservation] = field(default_factory=dict)
    log: list[tuple[str, str, Service]] = field(default_factory=list)

    def reserve(self, key: str, trip: TripRequest, service: Service) -> Reservation:
        """Reserve ``service`` for ``trip`` once per ``key``.

        Args:
            key: The idempotency key of the reservation.
            trip: The trip being booked.
            service: Which provider to book.

        Returns:
            The reservation made under ``key``, made now or on an earlier attempt.

        Raises:
            ApplicationError: The service is sold out (non-retryable, type ``SoldOut``).
        """
        existing = self.reservations.get(key)
        if existing is not None:
            return existing
        if trip.fail_at == service:
            raise ApplicationError(
                f"no {service} available to {trip.destination} for trip {trip.trip_id}",
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
        """Cancel the reservation made under ``key``, if there is one.

        Args:
            key: The idempotency key of the reservation to cancel.
            trip: The trip being undone.
            service: Which provider to call.

        Returns:
            True when a reservation was cancelled, False when there was nothing to undo
            (never booked, or cancelled already by an earlier attempt).
        """
        if self.reservations.pop(key, None) is None:
            return False
        self.log.append((trip.trip_id, "cancelled", service))
        return True

    def history(self, trip_id: str) -> list[tuple[str, Service]]:
        """What happened to ``trip_id``, in order, as ``(what, service)`` pairs."""
        return [(what, service) for trip, what, service in self.log if trip == trip_id]


#: The booking service the activities of this worker process talk to.
SERVICE = BookingService()


async def _reserve(trip: TripRequest, service: Service) -> Reservation:
    reservation = SERVICE.reserve(current_idempotency_key(), trip, service)
    activity.logger.info("Reserved %s for trip %s: %s", service, trip.trip_id, reservation)
    return reservation


async def _cancel(trip: TripRequest, reservation: Reservation | None, service: Service) -> None:
    # The action's key, not this compensation's own key: that is what the booking is under.
    cancelled = SERVICE.cancel(current_step().step_key, trip, service)
    what = reservation.confirmation if reservation else "no recorded confirmation"
    if cancelled:
        activity.logger.info("Cancelled %s for trip %s (%s)", service, trip.trip_id, what)
    else:
        activity.logger.info("No %s to cancel for trip %s", service, trip.trip_id)


@activity.defn
async def reserve_car(trip: TripRequest) -> Reservation:
    """Reserve a car for the trip."""
    return await _reserve(trip, "car")


@activity.defn
async def cancel_car(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's car, if one was reserved."""
    await _cancel(trip, reservation, "car")


@activity.defn
async def reserve_hotel(trip: TripRequest) -> Reservation:
    """Reserve a hotel room for the trip."""
    return await _reserve(trip, "hotel")


@activity.defn
async def cancel_hotel(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's hotel room, if one was reserved."""
    await _cancel(trip, reservation, "hotel")


@activity.defn
async def reserve_flight(trip: TripRequest) -> Reservation:
    """Reserve a flight for the trip."""
    return await _reserve(trip, "flight")


@activity.defn
async def cancel_flight(trip: TripRequest, reservation: Reservation | None) -> None:
    """Cancel the trip's flight, if one was reserved."""
    await _cancel(trip, reservation, "flight")


#: Every activity a trip-booking worker must register.
ACTIVITIES: list[Callable[..., Awaitable[Any]]] = [
    reserve_car,
    cancel_car,
    reserve_hotel,
    cancel_hotel,
    reserve_flight,
    cancel_flight,
]
