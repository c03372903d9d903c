"""The trip-booking saga: a car, a hotel and a flight, or none of them.

The same saga is written twice, once in each Python authoring style:

- `BookTrip`, the imperative style: an ordinary Temporal workflow that opens a `Saga`
  and calls ``saga.step(...)`` once per reservation. Choose it when a saga loops,
  branches on results or mixes its steps with other workflow code.
- `BookTripDeclared`, the class style: a class of ``step(...)`` attributes that
  ``@saga_workflow`` compiles into a workflow. Choose it when the saga is a fixed
  sequence of steps: it is shorter, and a compensation that does not fit its action is
  rejected by mypy and when the module is imported.

Both run on the same engine with the same saga name, step names and activities, so
they reserve and cancel the same things, derive the same idempotency keys and record
the same `SagaState` timeline. Only their workflow types differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporal_sagas import Saga
    from temporal_sagas.workflows import saga_workflow, step

    from .activities import (
        Itinerary,
        Reservation,
        TripRequest,
        cancel_car,
        cancel_flight,
        cancel_hotel,
        reserve_car,
        reserve_flight,
        reserve_hotel,
    )

#: The task queue the trip-booking worker polls.
TASK_QUEUE = "trip-booking"

#: The saga's name, shared by both styles: it is part of every step's idempotency key
#: and the value of the ``SagaName`` search attribute.
SAGA_NAME = "book-trip"

#: The workflow type of `BookTripDeclared`. A class-style saga is started by this name:
#: its ``run`` method is written by ``@saga_workflow``, so type checkers cannot see it.
DECLARED_WORKFLOW = "BookTripDeclared"


@workflow.defn
class BookTrip:
    """Book a whole trip, or nothing at all (imperative style)."""

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
        saga = Saga(SAGA_NAME, key=trip.trip_id)
        async with saga:
            # Each compensation is registered before its action runs, so a cancellation
            # may find nothing to undo; the activities handle that.
            car = await saga.step("car", reserve_car, trip, compensate=cancel_car)
            hotel = await saga.step("hotel", reserve_hotel, trip, compensate=cancel_hotel)
            flight = await saga.step("flight", reserve_flight, trip, compensate=cancel_flight)
        return Itinerary(car=car, hotel=hotel, flight=flight)


# The key function gives the class style the same business key as BookTrip's
# ``key=trip.trip_id``; without it the key would be the workflow id (here the same
# value, but the saga should not depend on how it was started).
@saga_workflow(name=SAGA_NAME, workflow_name=DECLARED_WORKFLOW, key=lambda trip: trip.trip_id)
class BookTripDeclared:
    """Book a whole trip, or nothing at all (class style).

    Each attribute is one step, named after the attribute and run in declaration
    order with the saga input (the `TripRequest`) as its argument. As in `BookTrip`,
    each compensation is registered before its action runs, and when a reservation
    fails for good the ones before it are cancelled, newest first, and the workflow
    fails with an ``ApplicationError`` of type ``SagaCompensated``.
    """

    car = step(reserve_car, compensate=cancel_car)
    hotel = step(reserve_hotel, compensate=cancel_hotel)
    flight = step(reserve_flight, compensate=cancel_flight)

    def result(self, trip: TripRequest, results: Mapping[str, Reservation]) -> Itinerary:
        """Shape the step results into the same `Itinerary` that `BookTrip` returns.

        Without this method the workflow would return the plain ``{step name: result}``
        mapping.

        Args:
            trip: The saga input.
            results: Each step's reservation, by step name.

        Returns:
            The three reservations.
        """
        return Itinerary(car=results["car"], hotel=results["hotel"], flight=results["flight"])
