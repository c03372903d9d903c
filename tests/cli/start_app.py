"""The app `sagas start --app tests.cli.start_app:app` finds sagas in: a class and a YAML saga."""

from temporal_sagas.workers import SagaApp
from tests.workflows.trip_styles import ACTIVITIES, TRIP_YAML, ClassTrip

app = SagaApp(
    task_queue="sagas-start-tests",
    sagas=[ClassTrip],
    definitions=[TRIP_YAML],
    activities=ACTIVITIES,
)
