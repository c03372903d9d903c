"""The trip-booking saga: a car, a hotel and a flight, or none of them."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from examples.trip_booking.activities import (
        Itinerary,
        TripRequest,
        cancel_car,
        cancel_flight,
        cancel_hotel,
        reserve_car,
        reserve_flight,
        reserve_hotel,
    )
    from temporal_sagas import Saga

#: The task queue the trip-booking worker polls.
TASK_QUEUE = "trip-booking"


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

        Raises:
            temporalio.exceptions.ApplicationError: Of type ``SagaCompensated`` when a
                reservation failed and the ones before it were cancelled, newest first.
        """
        saga = Saga("book-trip", key=trip.trip_id)
        async with saga:
            # Each compensation is registered before its action runs, so a cancellation
            # may find nothing to undo; the activities handle that.
            car = await saga.step("car", reserve_car, trip, compensate=cancel_car)
            hotel = await saga.step("hotel", reserve_hotel, trip, compensate=cancel_hotel)
            flight = await saga.step("flight", reserve_flight, trip, compensate=cancel_flight)
        return Itinerary(car=car, hotel=hotel, flight=flight)
